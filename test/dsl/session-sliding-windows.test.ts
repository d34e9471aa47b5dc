import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  app,
  serdes,
  SessionWindows,
  SlidingWindows,
  testTopology,
  TopologyError,
  untilWindowCloses,
  type SessionStore,
  type TopologyTestDriver,
  type WindowStore,
  type Windowed,
} from '../../src/index.js';
import { SessionWindowAggregateProcessor } from '../../src/dsl/internals/session-window-aggregate.js';
import type { Change } from '../../src/dsl/internals/change.js';
import type { InternalProcessorContext } from '../../src/processor/processor-node.js';
import type { StreamRecord } from '../../src/processor/types.js';
import { TaskStores } from '../../src/state/task-stores.js';

/**
 * Session and sliding windows, scenario by scenario, in the style of Kafka Streams' own
 * operator tests (KStreamSessionWindowAggregateProcessorTest, KStreamSlidingWindowAggregateTest);
 * several inputs and expected outputs are theirs.
 */

const strings = { key: serdes.string(), value: serdes.string() };
const windowedKey = serdes.windowed(serdes.string());

/** `key@[start,end]`, as Kafka Streams prints windowed keys. */
function show(w: Windowed<string>): string {
  return `${w.key}@[${w.window.start},${w.window.end}]`;
}

/** Kafka Streams' MockAggregator.TOSTRING_ADDER over MockInitializer.STRING_INIT: "0+1+2". */
const stringAdder = (_k: string, v: string, agg: string) => `${agg}+${v}`;

/** Updates grouped by window start, each as `value@timestamp` (Kafka's test gatherOutput). */
function byWindowStart(t: TopologyTestDriver, topic: string): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const r of t.output<Windowed<string>, string>(topic, { key: windowedKey, value: serdes.string() }).readAll()) {
    const start = r.key!.window.start;
    if (!out.has(start)) out.set(start, new Set());
    out.get(start)!.add(`${r.value}@${r.timestamp}`);
  }
  return out;
}

describe('sliding windows', () => {
  const slidingApp = (diff: number, grace: number) =>
    app('sliding', (b) => {
      b.stream('topic', strings)
        .groupByKey()
        .windowedBy(SlidingWindows.ofTimeDifference(diff).grace(grace))
        .aggregate(() => '0', stringAdder, { value: serdes.string(), store: 'sliding-store' })
        .toStream()
        .to('output', { value: serdes.string() });
    });

  it('a small hand-computed example: the windows records define, and what each holds (count)', () => {
    const t = testTopology(
      app('sliding-count', (b) => {
        b.stream('topic', strings).groupByKey().windowedBy(SlidingWindows.ofTimeDifference(5)).count({ store: 'counts' }).toStream().to('counts-out');
      }),
    );
    const pipe = (ts: number) => t.input('topic').pipe('a', 'x', { timestamp: ts });
    pipe(10); // [5,10] = {10}
    pipe(12); // [7,12] = {10,12} (copied from [5,10], plus 12); [11,16] = {12}: the window right after 10
    pipe(20); // [15,20] = {20}; [13,18] (right after 12) would hold nothing: not made
    const updates = t.output<Windowed<string>, number>('counts-out', { key: windowedKey }).readAll().map((r) => `${show(r.key!)}=${r.value}@${r.timestamp}`);
    assert.deepEqual(updates, ['a@[5,10]=1@10', 'a@[11,16]=1@12', 'a@[7,12]=2@12', 'a@[15,20]=1@20']);
    const store = t.store<WindowStore<string, number>>('counts');
    assert.deepEqual(
      [...store.fetchRange('a', 0, 100)].map((w) => [w.windowStart, w.value]),
      [
        [5, 1],
        [7, 2],
        [11, 1],
        [15, 1],
      ],
    );
    assert.equal(store.fetch('a', 7), 2);
    assert.equal(store.fetch('a', 13), undefined);
  });

  it('Kafka Streams testAggregateSmallInput: every update, by window, with its timestamp (the window\'s latest record)', () => {
    const t = testTopology(slidingApp(10, 5));
    for (const [v, ts] of [['1', 10], ['2', 10], ['3', 14], ['4', 15], ['5', 20], ['6', 22], ['7', 30]] as const) t.input('topic').pipe('A', v, { timestamp: ts });
    assert.deepEqual(
      byWindowStart(t, 'output'),
      new Map([
        [0, new Set(['0+1@10', '0+1+2@10'])],
        [4, new Set(['0+1+2+3@14'])],
        [5, new Set(['0+1+2+3+4@15'])],
        [10, new Set(['0+1+2+3+4+5@20'])],
        [11, new Set(['0+3@14', '0+3+4@15', '0+3+4+5@20'])],
        [12, new Set(['0+3+4+5+6@22'])],
        [15, new Set(['0+4@15', '0+4+5@20', '0+4+5+6@22'])],
        [16, new Set(['0+5@20', '0+5+6@22'])],
        [20, new Set(['0+5+6+7@30'])],
        [21, new Set(['0+6@22', '0+6+7@30'])],
        [23, new Set(['0+7@30'])],
      ]),
    );
    assert.deepEqual(t.droppedRecords(), {});
    const store = t.store<WindowStore<string, string>>('sliding-store');
    assert.equal(store.fetch('A', 11), '0+3+4+5');
    assert.equal(store.fetch('A', 20), '0+5+6+7');
  });

  it('Kafka Streams testEarlyRecordsSmallInput: records before the time difference share [0, diff]', () => {
    const t = testTopology(slidingApp(50, 0));
    for (const [v, ts] of [['1', 0], ['2', 5], ['3', 6], ['4', 3], ['5', 13], ['6', 10], ['7', 70]] as const) t.input('topic').pipe('A', v, { timestamp: ts });
    assert.deepEqual(
      byWindowStart(t, 'output'),
      new Map([
        [0, new Set(['0+1@0', '0+1+2@5', '0+1+2+3@6', '0+1+2+3+4@6', '0+1+2+3+4+5@13', '0+1+2+3+4+5+6@13'])],
        [1, new Set(['0+2@5', '0+2+3@6', '0+2+3+4@6', '0+2+3+4+5@13', '0+2+3+4+5+6@13'])],
        [4, new Set(['0+2+3@6', '0+2+3+5@13', '0+2+3+5+6@13'])],
        [6, new Set(['0+3@6', '0+3+5@13', '0+3+5+6@13'])],
        [7, new Set(['0+5@13', '0+5+6@13'])],
        [11, new Set(['0+5@13'])],
        [20, new Set(['0+7@70'])],
      ]),
    );
  });

  it('Kafka Streams shouldLogAndMeterWhenSkippingExpiredWindowByGrace: late records are dropped and counted', () => {
    const t = testTopology(slidingApp(10, 90));
    const input: [string, number][] = [['100', 200], ['0', 100], ['1', 101], ['2', 102], ['3', 103], ['4', 104], ['5', 105], ['6', 15], ['101', 300], ['102', 400]];
    for (const [v, ts] of input) t.input('topic').pipe('k', v, { timestamp: ts });
    // Stream time 200, grace 90: windows ending before 110 have closed. 100..105 are too late for
    // their own windows and find no other; 15 is too late for every window it could be in.
    assert.deepEqual(t.droppedRecords(), { 'late-record': 7 });
    const out = t.output<Windowed<string>, string>('output', { key: windowedKey, value: serdes.string() }).readAll();
    assert.deepEqual(
      out.map((r) => [show(r.key!), r.value, r.timestamp]),
      [
        ['k@[190,200]', '0+100', 200],
        ['k@[290,300]', '0+101', 300],
        ['k@[390,400]', '0+102', 400],
      ],
    );
  });

  it('a window [start, end] takes records until stream time passes end + grace', () => {
    const t = testTopology(slidingApp(10, 5));
    const pipe = (v: string, ts: number) => t.input('topic').pipe('k', v, { timestamp: ts });
    const store = t.store<WindowStore<string, string>>('sliding-store');
    pipe('1', 20); // [10,20]
    pipe('2', 25); // stream time 25: [10,20] ends at 25 - 5, still open
    pipe('3', 12); // joins [10,20]; its own [2,12] has closed
    assert.equal(store.fetch('k', 10), '0+1+3');
    assert.equal(store.fetch('k', 2), undefined);
    assert.deepEqual(t.droppedRecords(), {});
    pipe('4', 26); // stream time 26: [10,20] has closed
    pipe('5', 11); // every window holding 11 has closed: dropped
    assert.equal(store.fetch('k', 10), '0+1+3');
    assert.deepEqual(t.droppedRecords(), { 'late-record': 1 });
    pipe('6', 5); // even [5,15] has closed: dropped before looking at the store
    assert.deepEqual(t.droppedRecords(), { 'late-record': 2 });
  });

  it('suppress(untilWindowCloses()) emits each sliding window once, when no record can change it any more', () => {
    const t = testTopology(
      app('sliding-final', (b) => {
        b.stream('topic', strings)
          .groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifference(5))
          .count()
          .suppress(untilWindowCloses())
          .toStream()
          .to('final');
      }),
    );
    const final = t.output<Windowed<string>, number>('final', { key: windowedKey });
    const pipe = (k: string, ts: number) => t.input('topic').pipe(k, 'x', { timestamp: ts });
    pipe('a', 10);
    pipe('a', 10); // grace 0, stream time 10: [5,10] still takes records at 10
    assert.deepEqual(final.readAll(), []);
    pipe('b', 11); // [5,10] has closed
    assert.deepEqual(final.readAll().map((r) => `${show(r.key!)}=${r.value}`), ['a@[5,10]=2']);
    pipe('a', 12); // [7,12] = {10,10,12}, [11,16] = {12}
    pipe('b', 30);
    assert.deepEqual(final.readAll().map((r) => `${show(r.key!)}=${r.value}`), ['b@[6,11]=1', 'a@[7,12]=3', 'a@[11,16]=1']);
  });

  it('retention must cover twice the time difference plus grace', () => {
    const bad = app('sliding-retention', (b) => {
      b.stream('topic', strings).groupByKey().windowedBy(SlidingWindows.ofTimeDifference(10).grace(5)).count({ retentionMs: 24 });
    });
    assert.throws(() => bad.topology(), TopologyError);
  });
});

/** A session aggregation's processor on its own, with a real session store: sees the Change records it forwards. */
function sessionHarness(windows: SessionWindows) {
  const stores = TaskStores.openInMemory({
    applicationId: 'harness',
    taskId: '0_0',
    partition: 0,
    stores: [{ name: 'sessions', kind: 'session', keySerde: serdes.string(), valueSerde: serdes.json<number>(), changelog: 'none', retentionMs: 3 * 24 * 3600_000 }],
  });
  const forwarded: StreamRecord<Windowed<string>, Change<number>>[] = [];
  const dropped: string[] = [];
  const ctx = {
    forward: (r: StreamRecord<Windowed<string>, Change<number>>) => forwarded.push(r),
    recordDropped: (reason: string) => dropped.push(reason),
    getStateStore: (name: string) => stores.store(name)!.typed,
  } as unknown as InternalProcessorContext<Windowed<string>, Change<number>>;
  const processor = new SessionWindowAggregateProcessor<string, string, number>('sessions', windows, () => 0, (_k, _v, n) => n + 1, (_k, a, b) => a + b);
  processor.init(ctx);
  return {
    process: (key: string, timestamp: number) => processor.process({ key, value: 'v', timestamp, headers: {} }),
    /** What was forwarded since the last call, as [key@[start,end], newValue, oldValue, timestamp]. */
    take: () => forwarded.splice(0).map((r) => [show(r.key), r.value.newValue, r.value.oldValue, r.timestamp]),
    store: stores.store('sessions')!.typed as unknown as SessionStore<string, number>,
    dropped,
  };
}

describe('session windows', () => {
  it('Kafka Streams shouldImmediatelyForwardRemovedSessionsWhenMerging: the merged session is deleted (a tombstone with its old value), then the new one', () => {
    const h = sessionHarness(SessionWindows.ofInactivityGap(10));
    h.process('a', 0);
    h.process('a', 5);
    assert.deepEqual(h.take(), [
      ['a@[0,0]', 1, null, 0],
      ['a@[0,0]', null, 1, 0],
      ['a@[0,5]', 2, null, 5],
    ]);
  });

  it('a record bridging two sessions merges them: tombstones for both, then one merged session', () => {
    const h = sessionHarness(SessionWindows.ofInactivityGap(10));
    h.process('a', 0);
    h.process('a', 20); // 20 - 0 > gap: a second session
    h.process('b', 20);
    assert.deepEqual(h.take(), [
      ['a@[0,0]', 1, null, 0],
      ['a@[20,20]', 1, null, 20],
      ['b@[20,20]', 1, null, 20],
    ]);
    h.process('a', 10); // within the gap of both
    assert.deepEqual(h.take(), [
      ['a@[0,0]', null, 1, 0],
      ['a@[20,20]', null, 1, 20],
      ['a@[0,20]', 3, null, 20],
    ]);
    assert.deepEqual([...h.store.findSessions('a', 0, 100)].map((s) => [show(s.key), s.value]), [['a@[0,20]', 3]]);
    assert.equal(h.store.fetchSession('a', 0, 0), undefined);
    assert.equal(h.store.fetchSession('b', 20, 20), 1);
  });

  it('sessions apart by exactly the gap merge; by more, they do not (Kafka Streams shouldHaveMultipleSessionsForSameIdWhenTimestampApartBySessionGap)', () => {
    const h = sessionHarness(SessionWindows.ofInactivityGap(10));
    h.process('a', 0);
    h.process('a', 11);
    h.process('a', 21); // 21 - 11 = gap: same session as 11
    assert.deepEqual(h.take(), [
      ['a@[0,0]', 1, null, 0],
      ['a@[11,11]', 1, null, 11],
      ['a@[11,11]', null, 1, 11],
      ['a@[11,21]', 2, null, 21],
    ]);
  });

  it('a record inside a session updates it (Kafka Streams also emits the delete of the unchanged window first)', () => {
    const h = sessionHarness(SessionWindows.ofInactivityGap(10));
    h.process('a', 0);
    h.process('a', 10);
    h.take();
    h.process('a', 5);
    assert.deepEqual(h.take(), [
      ['a@[0,10]', null, 2, 10],
      ['a@[0,10]', 3, null, 10],
    ]);
    h.process('a', 10); // the session is [0,10] but the record's own is [10,10]: merged as well
    h.process('b', 3);
    h.process('b', 3); // [3,3] again: the same window, no delete
    assert.deepEqual(h.take().slice(2), [
      ['b@[3,3]', 1, null, 3],
      ['b@[3,3]', 2, null, 3],
    ]);
  });

  it('Kafka Streams shouldLogAndMeterWhenSkippingLateRecordWithZeroGrace / WithNonzeroGrace: a session closes at its end + gap + grace', () => {
    const zero = sessionHarness(SessionWindows.ofInactivityGap(10));
    zero.process('dummy', 0);
    zero.process('OnTime1', 0);
    zero.process('dummy', 11); // stream time 11: [0,0] closed at 0 + 10 + 0 < 11
    zero.process('Late1', 0);
    assert.deepEqual(zero.dropped, ['late-record']);
    assert.equal(zero.store.fetchSession('Late1', 0, 0), undefined);

    const one = sessionHarness(SessionWindows.ofInactivityGap(10).grace(1));
    one.process('dummy', 0);
    one.process('OnTime1', 0);
    one.process('dummy', 11);
    one.process('OnTime2', 0); // 0 + 10 + 1 >= 11: still on time
    one.process('dummy', 12);
    one.process('Late1', 0);
    assert.deepEqual(one.dropped, ['late-record']);
    assert.equal(one.store.fetchSession('OnTime2', 0, 0), 1);
  });

  it('an old record is kept when it joins a session that is still open', () => {
    const h = sessionHarness(SessionWindows.ofInactivityGap(10));
    h.process('a', 40);
    h.process('b', 50); // stream time 50: sessions ending before 40 have closed
    h.process('a', 31); // alone it would be late, but it joins [40,40]
    h.process('a', 20); // joins nothing ([31,40] starts 11 after it): late
    assert.deepEqual(h.dropped, ['late-record']);
    assert.deepEqual([...h.store.findSessions('a', 0, 100)].map((s) => [show(s.key), s.value]), [['a@[31,40]', 2]]);
  });

  it('count, reduce and aggregate with a merger through the DSL; tombstones reach the output topic as nulls', () => {
    const t = testTopology(
      app('sessions', (b) => {
        const sessions = b.stream('clicks', { key: serdes.string(), value: serdes.json<number>() }).groupByKey().windowedBy(SessionWindows.ofInactivityGap(10).grace(5));
        sessions.count({ store: 'session-counts' }).toStream().to('counts');
        sessions.reduce((a, v) => Math.max(a, v), { store: 'session-max' }).toStream().to('max');
        sessions
          .aggregate(
            () => '',
            (_k, v, agg) => `${agg}${v};`,
            (_k, a, b) => `${a}${b}`,
            { store: 'session-trail', value: serdes.string() },
          )
          .toStream()
          .to('trail', { value: serdes.string() });
      }),
    );
    const pipe = (k: string, v: number, ts: number) => t.input('clicks').pipe(k, v, { timestamp: ts });
    pipe('u', 3, 0);
    pipe('u', 9, 20);
    pipe('u', 4, 10); // bridges [0,0] and [20,20]
    pipe('v', 1, 100);
    pipe('u', 7, 30); // stream time 100: [0,20] closed long ago (20 + 10 + 5 < 100)
    const read = (topic: string) => t.output<Windowed<string>, unknown>(topic, { key: windowedKey, value: topic === 'trail' ? serdes.string() : serdes.json() }).readAll().map((r) => [show(r.key!), r.value]);
    assert.deepEqual(read('counts'), [
      ['u@[0,0]', 1],
      ['u@[20,20]', 1],
      ['u@[0,0]', null],
      ['u@[20,20]', null],
      ['u@[0,20]', 3],
      ['v@[100,100]', 1],
    ]);
    assert.deepEqual(read('max').at(-2), ['u@[0,20]', 9]);
    // The merger combines the merged sessions' aggregates, earliest end first, then the record folds in.
    assert.deepEqual(read('trail').at(-2), ['u@[0,20]', '3;9;4;']);
    assert.deepEqual(t.droppedRecords(), { 'late-record': 3 }); // u@30, once per aggregation
    const counts = t.store<SessionStore<string, number>>('session-counts');
    assert.deepEqual([...counts.findSessions('u', 0, 1000)].map((s) => [show(s.key), s.value]), [['u@[0,20]', 3]]);
    assert.equal(t.store<SessionStore<string, string>>('session-trail').fetchSession('u', 0, 20), '3;9;4;');
  });

  it('suppress(untilWindowCloses()) emits each session once it can no longer grow, and never the sessions merged away', () => {
    const t = testTopology(
      app('session-final', (b) => {
        b.stream('clicks', strings)
          .groupByKey()
          .windowedBy(SessionWindows.ofInactivityGap(10).grace(2))
          .count()
          .suppress(untilWindowCloses())
          .toStream()
          .to('final');
      }),
    );
    const final = t.output<Windowed<string>, number>('final', { key: windowedKey });
    const pipe = (k: string, ts: number) => t.input('clicks').pipe(k, 'x', { timestamp: ts });
    const read = () => final.readAll().map((r) => `${show(r.key!)}=${r.value}@${r.timestamp}`);
    pipe('a', 0);
    pipe('a', 12); // 12 - 0 > gap: a second session
    pipe('a', 6); // merges [0,0] and [12,12] into [0,12]
    pipe('b', 12);
    pipe('b', 24); // stream time 24: [0,12] could still take a record at 22 (22 - 10 = 12)
    assert.deepEqual(read(), []);
    pipe('c', 25); // 12 + 10 + 2 < 25: closed, b@[12,12] too; the deleted a@[0,0] and a@[12,12] are not emitted
    assert.deepEqual(read(), ['a@[0,12]=3@12', 'b@[12,12]=1@12']);
    pipe('a', 100);
    assert.deepEqual(read(), ['b@[24,24]=1@24', 'c@[25,25]=1@25']);
    assert.equal(final.size, 0);
  });
});
