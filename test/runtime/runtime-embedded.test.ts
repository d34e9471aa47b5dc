/**
 * The real runtime on the embedded log: the same topology gives the same results as
 * testTopology, restarts continue where the last commit left off, one instance per app id.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { app, ApplicationRunningError, serdes, testTopology, TopicError, type App } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log, OutgoingRecord } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';

interface Event {
  user: string;
  n: number;
  tags: string[];
}

/** Uses every stateless operator, a topic extractor and a repartition. */
const everything = app('everything', (b) => {
  const events = b.stream('events', { key: serdes.string(), value: serdes.json<Event>() });
  const branches = events
    .filter((_, e) => e.n % 7 !== 0)
    .split({ name: 'b-' })
    .branch((_, e) => e.n % 2 === 0, 'even')
    .defaultBranch('odd');
  const even = branches['b-even']!.mapValues((e): Event & { extra: string } => ({ ...e, extra: `half=${e.n / 2}` }));
  const odd = branches['b-odd']!.flatMapValues((e) => e.tags.map((t) => ({ ...e, extra: `tag=${t}` })));
  even
    .merge(odd)
    .map((k, e) => [`${k}/${e.user}`, e] as const)
    .repartition({ name: 'by-user', partitions: 3 })
    .flatMap((k, e) => [[k, e.n] as const, [`${k}!`, -e.n] as const])
    .to((_, n) => (n >= 0 ? 'positive' : 'negative'), { value: serdes.int32() });
  events.selectKey((_, e) => e.user).filterNot((_, e) => e.tags.length === 0).to('tagged');
});

function events(count: number, seed: number): [string, Event][] {
  let x = seed;
  // LCG; the low bits of an LCG cycle quickly, so use the high ones.
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) >>> 12;
  return Array.from({ length: count }, (_, i) => {
    const user = `u${next() % 13}`;
    const tags = ['a', 'b', 'c'].slice(0, next() % 4);
    return [`k${next() % 50}`, { user, n: i, tags }];
  });
}

function sortedLines(records: { key: unknown; value: unknown }[]): string[] {
  return records.map((r) => JSON.stringify([r.key, r.value])).sort();
}

async function readTopic(log: Log, topic: string, keySerde = serdes.string(), valueSerde: { deserialize(b: Buffer, t: string): unknown } = serdes.json()) {
  const parts = await log.admin.offsets(topic);
  const want = parts.reduce((n, p) => n + p.high - p.low, 0);
  const consumer = log.consumer({});
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  const out: { key: unknown; value: unknown; partition: number }[] = [];
  for (let i = 0; i < 1000 && out.length < want; i++) {
    for (const r of await consumer.poll(50)) {
      out.push({ key: r.key && keySerde.deserialize(r.key, topic), value: r.value && valueSerde.deserialize(r.value, topic), partition: r.partition });
    }
  }
  await consumer.close();
  return out;
}

async function produce(log: Log, topic: string, pairs: [string, unknown][]) {
  const producer = log.producer();
  const records: OutgoingRecord[] = pairs.map(([k, v], i) => ({ topic, key: Buffer.from(k), value: Buffer.from(JSON.stringify(v)), timestamp: 1000 + i, headers: {} }));
  await producer.send(records);
  await producer.close();
}

async function runUntilIdle(application: App, log: Log): Promise<StreamsRuntime> {
  const runtime = new StreamsRuntime(application, { log, logger: silentLogger, pollMs: 20 });
  await runtime.start();
  await runtime.waitUntilIdle(150);
  await runtime.close();
  return runtime;
}

describe('StreamsRuntime on the embedded log', () => {
  let dir: string;
  let log: Log;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-rt-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });
  afterEach(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the same results as testTopology for every operator', async () => {
    const input = events(2000, 7);
    const t = testTopology(everything);
    for (const [k, v] of input) t.input('events').pipe(k, v);
    const expected = {
      positive: sortedLines(t.output('positive', { value: serdes.int32() }).readAll()),
      negative: sortedLines(t.output('negative', { value: serdes.int32() }).readAll()),
      tagged: sortedLines(t.output('tagged').readAll()),
    };
    assert.ok(expected.positive.length > 1000 && expected.tagged.length > 1000, `${expected.positive.length} positive, ${expected.tagged.length} tagged`);

    await log.admin.createTopics([{ name: 'events', partitions: 4 }, { name: 'positive', partitions: 2 }, { name: 'negative', partitions: 2 }]);
    await produce(log, 'events', input);
    const runtime = await runUntilIdle(everything, log);
    assert.deepEqual(sortedLines(await readTopic(log, 'positive', serdes.string(), serdes.int32())), expected.positive);
    assert.deepEqual(sortedLines(await readTopic(log, 'negative', serdes.string(), serdes.int32())), expected.negative);
    assert.deepEqual(sortedLines(await readTopic(log, 'tagged')), expected.tagged);
    const stats = runtime.stats();
    assert.equal(stats.recordsOut.positive, expected.positive.length);
    assert.equal(stats.recordsOut['everything-by-user-repartition'], undefined, 'internal topics are not counted as output');
    assert.equal(stats.recordsIn, input.length, 'records in counts the input topic only');
    // The internal topic was created with the fixed partition count; 'tagged' with the widest input's.
    const described = await log.admin.describeTopics(['everything-by-user-repartition', 'tagged']);
    assert.deepEqual(described.map((d) => [d.name, d.partitions, d.internal]), [['everything-by-user-repartition', 3, true], ['tagged', 4, false]]);
  });

  it('keeps a key on one partition, the same one Kafka would pick (murmur2)', async () => {
    await log.admin.createTopics([{ name: 'events', partitions: 4 }]);
    await produce(log, 'events', events(300, 3));
    await runUntilIdle(everything, log);
    const tagged = await readTopic(log, 'tagged');
    const partitionOf = new Map<unknown, number>();
    for (const r of tagged) {
      if (partitionOf.has(r.key)) assert.equal(r.partition, partitionOf.get(r.key), `key ${String(r.key)} on two partitions`);
      partitionOf.set(r.key, r.partition);
    }
  });

  it('continues from the last commit after a restart: no record twice, none lost', async () => {
    const pass = app('pass', (b) => b.stream('in').to('out'));
    await log.admin.createTopics([{ name: 'in', partitions: 2 }]);
    await produce(log, 'in', events(500, 1).map(([k, v]) => [k, v.n]));
    await runUntilIdle(pass, log);
    await produce(log, 'in', events(300, 2).map(([k, v]) => [k, 1000 + v.n]));
    await runUntilIdle(pass, log);
    const out = (await readTopic(log, 'out')).map((r) => r.value as number).sort((a, b) => a - b);
    assert.equal(out.length, 800);
    assert.deepEqual(out, [...Array.from({ length: 500 }, (_, i) => i), ...Array.from({ length: 300 }, (_, i) => 1000 + i)]);
  });

  it('allows one running instance per application id', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 1 }]);
    const pass = app('single', (b) => b.stream('in').to('out'));
    const first = new StreamsRuntime(pass, { log, logger: silentLogger });
    await first.start();
    const second = new StreamsRuntime(pass, { log, logger: silentLogger });
    await assert.rejects(second.start(), (err: unknown) => err instanceof ApplicationRunningError && /already running/.test((err as Error).message));
    await first.close();
    const third = new StreamsRuntime(pass, { log, logger: silentLogger });
    await third.start();
    await third.close();
  });

  it('refuses to start when a source topic is missing, saying how to create it', async () => {
    const runtime = new StreamsRuntime(app('missing', (b) => b.stream('nope').to('out')), { log, logger: silentLogger });
    await assert.rejects(runtime.start(), (err: unknown) => err instanceof TopicError && /'nope'.*tributary topics --create nope/.test((err as Error).message));
  });

  it('pauses partitions under backpressure and still processes everything', async () => {
    const slow = app('small-buffers', (b) => b.stream('in').mapValues((v) => v).to('out'), { maxPollRecords: 50, maxBufferedRecordsPerPartition: 20, maxUncommittedRecords: 30 });
    await log.admin.createTopics([{ name: 'in', partitions: 3 }]);
    await produce(log, 'in', events(3000, 5).map(([k, v]) => [k, v.n]));
    const runtime = await runUntilIdle(slow, log);
    assert.equal((await readTopic(log, 'out')).length, 3000);
    // Each loop commits once a task holds 30 uncommitted records: at least 3000 / (3 tasks * 30).
    assert.ok(runtime.stats().commits >= 3000 / 90, `commits early when the uncommitted output grows: ${runtime.stats().commits} commits`);
  });

  it('stops on a poison record under the fail handler without committing past it', async () => {
    const strict = app('strict', (b) => b.stream('in', { value: serdes.json<number>() }).to('out'));
    await log.admin.createTopics([{ name: 'in', partitions: 1 }]);
    await produce(log, 'in', [['a', 1]]);
    const producer = log.producer();
    await producer.send([{ topic: 'in', key: null, value: Buffer.from('{bad'), timestamp: 5, headers: {} }]);
    await producer.close();
    const runtime = new StreamsRuntime(strict, { log, logger: silentLogger, pollMs: 20 });
    await runtime.start();
    await assert.rejects(runtime.stopped, /record in-0@1/);
    const committed = await log.admin.committedOffsets('strict', ['in']);
    assert.ok(committed.every((c) => c.offset <= 1), `committed past the poison record: ${JSON.stringify(committed)}`);
  });

  it('refuses to start a join of topics that are not co-partitioned, naming them', async () => {
    await log.admin.createTopics([{ name: 'orders', partitions: 4 }, { name: 'customers', partitions: 2 }]);
    const joined = app('copart', (b) => {
      const customers = b.table('customers');
      b.stream('orders').join(customers, (o, c) => ({ o, c })).to('out');
    });
    const runtime = new StreamsRuntime(joined, { log, logger: silentLogger });
    await assert.rejects(runtime.start(), (err: unknown) => err instanceof TopicError && /'orders' \(4 partitions\), 'customers' \(2 partitions\) are joined/.test((err as Error).message));
  });
});
