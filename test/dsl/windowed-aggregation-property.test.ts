import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  app,
  serdes,
  SessionWindows,
  SlidingWindows,
  testTopology,
  TimeWindows,
  type KGroupedStream,
  type KTable,
  type SessionStore,
  type TopologyTestDriver,
  type WindowStore,
  type Windowed,
} from '../../src/index.js';
import type { Change } from '../../src/dsl/internals/change.js';
import { SessionWindowAggregateProcessor } from '../../src/dsl/internals/session-window-aggregate.js';
import { MaxTimestampSerde, SlidingWindowAggregateProcessor } from '../../src/dsl/internals/sliding-window-aggregate.js';
import type { InternalProcessorContext } from '../../src/processor/processor-node.js';
import type { Processor } from '../../src/processor/types.js';
import type { BackendKind } from '../../src/state/backend/types.js';
import type { StoreDefinition } from '../../src/state/store-definition.js';
import { TaskStores } from '../../src/state/task-stores.js';

/**
 * Windowed aggregations against naive references: for random out-of-order records of a few
 * keys, what every (key, window) holds at the end (in its store, and as the last update
 * emitted for it) must be what a model computes from the records in arrival order. Three
 * aggregations run side by side: count, sum of values, and the list of the records' arrival
 * indices, so a model can name exactly which records each window holds.
 *
 * Lateness, as the operators apply it: stream time is the largest timestamp seen so far, and
 * a record is dropped for a window once stream time >= the window's (exclusive) end + grace.
 * Time windows [start, start + size) end at start + size; sliding windows [start, start + diff]
 * include their end, so they end at start + diff + 1; a session [start, end] can grow until
 * end + gap, so it ends at end + gap + 1.
 */

interface Rec {
  key: string;
  ts: number;
  value: number;
}

/** The value piped: the record's arrival index and its value. */
interface In {
  i: number;
  v: number;
}

/** Window id (`key@start`, or `key@start-end` for sessions) -> arrival indices of the records it holds. */
type Members = Map<string, number[]>;

function add(model: Members, id: string, index: number): void {
  const list = model.get(id) ?? [];
  list.push(index);
  model.set(id, list);
}

/** Tumbling and hopping windows: every window [k * advance, k * advance + size) holding ts, k >= 0. */
function timeWindowsModel(records: readonly Rec[], size: number, advance: number, grace: number): Members {
  const model: Members = new Map();
  let streamTime = -Infinity;
  records.forEach((r, i) => {
    streamTime = Math.max(streamTime, r.ts);
    for (let start = 0; start <= r.ts; start += advance) {
      if (r.ts >= start + size) continue;
      if (streamTime >= start + size + grace) continue; // closed: late for this window
      add(model, `${r.key}@${start}`, i);
    }
  });
  return model;
}

/**
 * Sessions, by simulating merges in arrival order: a record joins every session of its key
 * within the gap (end >= ts - gap and start <= ts + gap) into one; it is late when that merged
 * session has closed (stream time >= its end + gap + 1 + grace).
 */
function sessionModel(records: readonly Rec[], gap: number, grace: number): Members {
  const sessions = new Map<string, { start: number; end: number; members: number[] }[]>();
  let streamTime = -Infinity;
  records.forEach((r, i) => {
    streamTime = Math.max(streamTime, r.ts);
    const mine = sessions.get(r.key) ?? [];
    const overlapping = mine.filter((s) => s.end >= r.ts - gap && s.start <= r.ts + gap);
    const start = Math.min(r.ts, ...overlapping.map((s) => s.start));
    const end = Math.max(r.ts, ...overlapping.map((s) => s.end));
    if (streamTime >= end + gap + 1 + grace) return; // late
    const members = [...overlapping.flatMap((s) => s.members), i];
    sessions.set(r.key, [...mine.filter((s) => !overlapping.includes(s)), { start, end, members }]);
  });
  const model: Members = new Map();
  for (const [key, list] of sessions) for (const s of list) model.set(`${key}@${s.start}-${s.end}`, s.members);
  return model;
}

/** Sliding window starts a record at ts defines: the window ending at it ([0, diff] before diff) and the one right after it. */
function slidingStarts(ts: number, diff: number): number[] {
  return [Math.max(0, ts - diff), ts + 1];
}

/**
 * Sliding windows when no record is late: a window [start, start + diff] for each record
 * ending at it ([0, diff] for records before diff) and one right after it ([ts + 1, ts + 1 +
 * diff]), holding every record in it; windows holding none do not exist.
 */
function slidingModel(records: readonly Rec[], diff: number): Members {
  const model: Members = new Map();
  const ids = new Set<string>();
  for (const r of records) for (const start of slidingStarts(r.ts, diff)) ids.add(`${r.key}@${start}`);
  for (const id of ids) {
    const [key, s] = id.split('@') as [string, string];
    const start = Number(s);
    records.forEach((r, i) => {
      if (r.key === key && r.ts >= start && r.ts <= start + diff) add(model, id, i);
    });
  }
  return model;
}

interface Params {
  size: number;
  advance: number;
  timeGrace: number;
  diff: number;
  slidingGrace: number;
  gap: number;
  sessionGrace: number;
}

const KINDS = ['time', 'sliding', 'session'] as const;
type Kind = (typeof KINDS)[number];
const WHATS = ['count', 'sum', 'ids'] as const;
type What = (typeof WHATS)[number];

function topologyFor(p: Params) {
  return app('windowed-property', (b) => {
    const grouped: KGroupedStream<string, In> = b.stream('in', { key: serdes.string(), value: serdes.json<In>() }).groupByKey();
    const tables = (kind: Kind): { count: KTable<Windowed<string>, number>; sum: KTable<Windowed<string>, number>; ids: KTable<Windowed<string>, number[]> } => {
      const sum = { store: `${kind}-sum`, value: serdes.json<number>() };
      const ids = { store: `${kind}-ids`, value: serdes.json<number[]>() };
      const adder = (_k: string, r: In, a: number) => a + r.v;
      const collect = (_k: string, r: In, a: number[]) => [...a, r.i];
      if (kind === 'time') {
        const w = () => grouped.windowedBy(TimeWindows.ofSize(p.size).advanceBy(p.advance).grace(p.timeGrace));
        return { count: w().count({ store: `${kind}-count` }), sum: w().aggregate(() => 0, adder, sum), ids: w().aggregate<number[]>(() => [], collect, ids) };
      }
      if (kind === 'sliding') {
        const w = () => grouped.windowedBy(SlidingWindows.ofTimeDifference(p.diff).grace(p.slidingGrace));
        return { count: w().count({ store: `${kind}-count` }), sum: w().aggregate(() => 0, adder, sum), ids: w().aggregate<number[]>(() => [], collect, ids) };
      }
      const w = () => grouped.windowedBy(SessionWindows.ofInactivityGap(p.gap).grace(p.sessionGrace));
      return {
        count: w().count({ store: `${kind}-count` }),
        sum: w().aggregate(() => 0, adder, (_k, a, c) => a + c, sum),
        ids: w().aggregate<number[]>(() => [], collect, (_k, a, c) => [...a, ...c], ids),
      };
    };
    for (const kind of KINDS) {
      const t = tables(kind);
      for (const what of WHATS) t[what].toStream().to(`${kind}-${what}-out`);
    }
  });
}

const MAX_TS = 60;

function windowId(kind: Kind, w: Windowed<string>): string {
  return kind === 'session' ? `${w.key}@${w.window.start}-${w.window.end}` : `${w.key}@${w.window.start}`;
}

/** What a store holds at the end. */
function storeContents(t: TopologyTestDriver, kind: Kind, what: What): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (kind === 'session') {
    const store = t.store<SessionStore<string, unknown> & { fetchAll(from: number, to: number): Iterable<{ key: Windowed<string>; value: unknown }> }>(`${kind}-${what}`);
    for (const e of store.fetchAll(0, MAX_TS)) out.set(windowId(kind, e.key), e.value);
  } else {
    const store = t.store<WindowStore<string, unknown>>(`${kind}-${what}`);
    for (const e of store.fetchAll(0, MAX_TS + 1)) out.set(windowId(kind, e.key), e.value);
  }
  return out;
}

/** The last value emitted per window (a null deletes it). */
function lastEmitted(t: TopologyTestDriver, kind: Kind, what: What): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const r of t.output<Windowed<string>, unknown>(`${kind}-${what}-out`, { key: serdes.windowed(serdes.string()), value: serdes.json() }).readAll()) {
    const id = windowId(kind, r.key!);
    if (r.value === null) out.delete(id);
    else out.set(id, r.value);
  }
  return out;
}

function sortedEntries<V>(m: Map<string, V>): [string, V][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The windows of one kind as the topology ended, read twice (stores, last updates), checked
 * to agree with each other and across the three aggregations: window id -> sorted indices.
 */
function observed(t: TopologyTestDriver, records: readonly Rec[], kind: Kind): Members {
  let result: Members | undefined;
  for (const read of [storeContents, lastEmitted]) {
    const [count, sum, ids] = WHATS.map((what) => read(t, kind, what));
    const members: Members = new Map([...ids!].map(([id, list]) => [id, [...(list as number[])].sort((a, b) => a - b)]));
    const where = `${kind} (${read.name})`;
    assert.deepEqual(sortedEntries(count!), sortedEntries(new Map([...members].map(([id, list]) => [id, list.length]))), `${where}: counts`);
    assert.deepEqual(sortedEntries(sum!), sortedEntries(new Map([...members].map(([id, list]) => [id, list.reduce((s, i) => s + records[i]!.value, 0)]))), `${where}: sums`);
    if (result === undefined) result = members;
    else assert.deepEqual(sortedEntries(members), sortedEntries(result), `${kind}: the last updates emitted differ from the store`);
  }
  return result!;
}

function run(p: Params, records: readonly Rec[], check: (kind: Kind, actual: Members) => void): void {
  const t = testTopology(topologyFor(p));
  try {
    records.forEach((r, i) => t.input('in').pipe(r.key, { i, v: r.value }, { timestamp: r.ts }));
    for (const kind of KINDS) check(kind, observed(t, records, kind));
  } finally {
    t.close();
  }
}

function sortedModel(m: Members): [string, number[]][] {
  return sortedEntries(new Map([...m].map(([id, list]) => [id, [...list].sort((a, b) => a - b)])));
}

const arbGrace = fc.integer({ min: 0, max: 12 });
const arbParams: fc.Arbitrary<Params> = fc
  .record({
    size: fc.integer({ min: 1, max: 12 }),
    advanceFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    timeGrace: arbGrace,
    diff: fc.integer({ min: 1, max: 12 }),
    slidingGrace: arbGrace,
    gap: fc.integer({ min: 1, max: 12 }),
    sessionGrace: arbGrace,
  })
  .map(({ advanceFraction, ...p }) => ({ ...p, advance: Math.max(1, Math.min(p.size, Math.ceil(advanceFraction * p.size))) }));

const arbRecords = fc.array(
  fc.record({ key: fc.constantFrom('a', 'b'), ts: fc.integer({ min: 0, max: MAX_TS }), value: fc.integer({ min: 1, max: 9 }) }),
  { minLength: 1, maxLength: 30 },
);

describe('windowed aggregations against naive references (fast-check)', () => {
  it('tumbling, hopping and session windows hold what the reference computes, late records dropped per window', () => {
    fc.assert(
      fc.property(arbParams, arbRecords, (p, records) => {
        run(p, records, (kind, actual) => {
          if (kind === 'time') assert.deepEqual(sortedModel(actual), sortedModel(timeWindowsModel(records, p.size, p.advance, p.timeGrace)), 'time windows');
          if (kind === 'session') assert.deepEqual(sortedModel(actual), sortedModel(sessionModel(records, p.gap, p.sessionGrace)), 'sessions');
        });
      }),
      { numRuns: 100 },
    );
  });

  it('sliding windows hold every record in them when none is late, in any arrival order', () => {
    fc.assert(
      fc.property(arbParams, arbRecords, (p, records) => {
        run({ ...p, slidingGrace: MAX_TS + 1 }, records, (kind, actual) => {
          if (kind === 'sliding') assert.deepEqual(sortedModel(actual), sortedModel(slidingModel(records, p.diff)), 'sliding windows');
        });
      }),
      { numRuns: 100 },
    );
  });

  /*
   * With late records, Kafka Streams' sliding windows are not the per-window rule above
   * applied window by window: a window is made only by a record arriving while it is open, and
   * takes its earlier records from the windows next to it. So a record can be missing from a
   * window that was still open when it arrived (say diff 3, grace 1, records at 32, 29, 31:
   * 29's own window [26, 29] has closed, so [28, 31], made later by 31, starts empty and holds
   * only 31). What holds: no window holds a record that was late for it or outside it; every
   * window is one a record defines; and a record is in its own window when that was open.
   */
  it('sliding windows with late records: no window holds a late or foreign record; each record is in its own window when it was open', () => {
    fc.assert(
      fc.property(arbParams, arbRecords, (p, records) => {
        const { diff, slidingGrace: grace } = p;
        const arrivals: number[] = []; // stream time when each record arrived
        let streamTime = -Infinity;
        for (const r of records) arrivals.push((streamTime = Math.max(streamTime, r.ts)));
        const closedAt = (start: number) => start + diff + 1 + grace; // stream time at which [start, start + diff] closes
        run(p, records, (kind, actual) => {
          if (kind !== 'sliding') return;
          const defined = new Set<string>();
          records.forEach((r, i) => {
            if (arrivals[i]! < closedAt(r.ts)) for (const start of slidingStarts(r.ts, diff)) defined.add(`${r.key}@${start}`);
          });
          for (const [id, members] of actual) {
            assert.ok(defined.has(id), `sliding window ${id} is not one a record defines`);
            const [key, s] = id.split('@') as [string, string];
            const start = Number(s);
            assert.ok(members.length > 0, `sliding window ${id} is empty`);
            for (const i of members) {
              const r = records[i]!;
              assert.ok(r.key === key && r.ts >= start && r.ts <= start + diff, `sliding window ${id} holds record ${i} (${r.key}@${r.ts}) outside it`);
              assert.ok(arrivals[i]! < closedAt(start), `sliding window ${id} holds record ${i}, which arrived at stream time ${arrivals[i]} after it closed`);
            }
          }
          records.forEach((r, i) => {
            const own = slidingStarts(r.ts, diff)[0]!;
            if (arrivals[i]! < closedAt(own)) assert.ok(actual.get(`${r.key}@${own}`)?.includes(i), `record ${i} (${r.key}@${r.ts}) is missing from its own window starting at ${own}`);
          });
        });
      }),
      { numRuns: 100 },
    );
  });

  /*
   * testTopology runs on the memory backend with every write committed at once. On sqlite,
   * the default, the processors' scans merge the uncommitted write batch with committed rows:
   * the same records must give the same updates whenever commits fall.
   */
  it('sliding and session aggregations emit the same updates on sqlite, with commits between records, as in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-windowed-'));
    let runs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(arbParams, arbRecords, fc.integer({ min: 1, max: 5 }), async (p, records, commitEvery) => {
          const updates = async (backend: BackendKind) => {
            const stored = new MaxTimestampSerde(serdes.json<number>());
            const defs: StoreDefinition[] = [
              { name: 'sliding', kind: 'window', keySerde: serdes.string(), valueSerde: stored, changelog: 'none', retentionMs: 24 * 3600_000 },
              { name: 'session', kind: 'session', keySerde: serdes.string(), valueSerde: serdes.json<number>(), changelog: 'none', retentionMs: 24 * 3600_000 },
            ];
            const stores = await TaskStores.open({ applicationId: 'equiv', taskId: `0_${runs++}`, partition: 0, stores: defs, defaultBackend: backend, stateDir: dir });
            const out: string[] = [];
            const processors: [string, Processor<string, number, Windowed<string>, Change<number>>][] = [
              ['sliding', new SlidingWindowAggregateProcessor<string, number, number>('sliding', SlidingWindows.ofTimeDifference(p.diff).grace(p.slidingGrace), () => 0, (_k, v, a) => a + v, stored)],
              ['session', new SessionWindowAggregateProcessor<string, number, number>('session', SessionWindows.ofInactivityGap(p.gap).grace(p.sessionGrace), () => 0, (_k, v, a) => a + v, (_k, a, b) => a + b)],
            ];
            for (const [name, processor] of processors) {
              processor.init!({
                forward: (r: { key: Windowed<string>; value: Change<number>; timestamp: number }) =>
                  out.push(`${name} ${r.key.key}@${r.key.window.start}-${r.key.window.end}: ${r.value.newValue} (was ${r.value.oldValue}) @${r.timestamp}`),
                recordDropped: (reason: string) => out.push(`${name} dropped: ${reason}`),
                getStateStore: (store: string) => stores.store(store)!.typed,
              } as unknown as InternalProcessorContext<Windowed<string>, Change<number>>);
            }
            try {
              for (let i = 0; i < records.length; i++) {
                const r = records[i]!;
                for (const [, processor] of processors) processor.process({ key: r.key, value: r.value, timestamp: r.ts, headers: {} });
                if (backend !== 'memory' && (i + 1) % commitEvery === 0) await stores.flush(new Map(), new Map());
              }
            } finally {
              await stores.close();
            }
            return out;
          };
          assert.deepEqual(await updates('sqlite'), await updates('memory'));
        }),
        { numRuns: 40 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
