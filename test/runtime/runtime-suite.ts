/**
 * The runtime suite, run against every log backend (runtime-embedded.test.ts, runtime-kafka.test.ts):
 * the same topologies, the same inputs, the same expected outputs. Topic and application names
 * are fresh per test (a Kafka cluster keeps them across tests). Behaviour that differs by design
 * (one instance per application on the embedded log, scale-out on Kafka) is tested per capability.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { app, ApplicationRunningError, serdes, testTopology, TopicError, type App } from '../../src/index.js';
import type { Log, OutgoingRecord } from '../../src/log/types.js';
import { createLogger, silentLogger as quiet } from '../../src/runtime/logger.js';

/** TEST_LOG=debug shows the runtime's log while debugging a test. */
const silentLogger = process.env.TEST_LOG ? createLogger({ level: process.env.TEST_LOG as 'debug' }) : quiet;
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';

/** Gives a name this test's own suffix. */
type Namer = (base: string) => string;

export interface SuiteLog {
  log: Log;
  cleanup(): Promise<void>;
}

/** How long "idle" is: a Kafka consumer needs longer to see that nothing more is coming. */
let IDLE_MS = 150;

interface Event {
  user: string;
  n: number;
  tags: string[];
}

/** Uses every stateless operator, a topic extractor and a repartition. */
const everything = (n: Namer) => app(n('everything'), (b) => {
  const events = b.stream(n('events'), { key: serdes.string(), value: serdes.json<Event>() });
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
    .to((_, v) => (v >= 0 ? n('positive') : n('negative')), { value: serdes.int32() });
  events.selectKey((_, e) => e.user).filterNot((_, e) => e.tags.length === 0).to(n('tagged'));
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
  const consumer = log.consumer({});
  const tps = parts.map((p) => ({ topic, partition: p.partition }));
  consumer.assign(tps);
  const out: { key: unknown; value: unknown; partition: number }[] = [];
  // read to the end offsets (on Kafka, transaction markers take offsets too: count positions, not records);
  const done = () => parts.every((p) => {
    try {
      return consumer.position({ topic, partition: p.partition }) >= p.high;
    } catch {
      return false;
    }
  });
  // a trailing commit marker is never returned as a record: stop after 10 empty polls then
  for (let i = 0, empty = 0; i < 1000 && !done() && empty < 10; i++) {
    const records = await consumer.poll(50);
    empty = records.length === 0 ? empty + 1 : 0;
    for (const r of records) {
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

async function runUntilIdle(application: App, log: Log, stateDir: string): Promise<StreamsRuntime> {
  const runtime = new StreamsRuntime(application, { log, logger: silentLogger, pollMs: 20, stateDir });
  await runtime.start();
  await runtime.waitUntilIdle(IDLE_MS);
  await runtime.close();
  return runtime;
}

/** Counts per key, for the stateful tests. */
const counter = (n: Namer) =>
  app(n('counter'), (b) => {
    b.stream(n('words'), { key: serdes.string(), value: serdes.string() })
      .groupBy((_, w) => w)
      .count({ store: 'counts' })
      .toStream()
      .to(n('counts-out'), { value: serdes.int32() });
  });

/** A stream-table join: partition p of both topics must be in one task (co-assigned on Kafka). */
const enricher = (n: Namer) =>
  app(n('enricher'), (b) => {
    const users = b.table(n('users'), { key: serdes.string(), value: serdes.string() });
    b.stream(n('clicks'), { key: serdes.string(), value: serdes.string() })
      .join(users, (click, user) => `${user}:${click}`)
      .to(n('enriched'), { value: serdes.string() });
  });

export function runtimeSuite(name: string, open: () => Promise<SuiteLog>, options: { idleMs?: number } = {}): void {
  describe(`StreamsRuntime on the ${name} log`, () => {
    let dir: string;
    let log: Log;
    let opened: SuiteLog;
    let n: Namer;
    beforeEach(async () => {
      IDLE_MS = options.idleMs ?? 150;
      dir = mkdtempSync(join(tmpdir(), 'tributary-rt-'));
      opened = await open();
      log = opened.log;
      const suffix = randomUUID().slice(0, 8);
      n = (base) => `${base}-${suffix}`;
    });
    afterEach(async () => {
      await opened.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    const state = (i = 0) => join(dir, `state-${i}`);

    it('gives the same results as testTopology for every operator', async () => {
      const input = events(2000, 7);
      const t = testTopology(everything(n));
      for (const [k, v] of input) t.input(n('events')).pipe(k, v);
      const expected = {
        positive: sortedLines(t.output(n('positive'), { value: serdes.int32() }).readAll()),
        negative: sortedLines(t.output(n('negative'), { value: serdes.int32() }).readAll()),
        tagged: sortedLines(t.output(n('tagged')).readAll()),
      };
      assert.ok(expected.positive.length > 1000 && expected.tagged.length > 1000, `${expected.positive.length} positive, ${expected.tagged.length} tagged`);

      await log.admin.createTopics([{ name: n('events'), partitions: 4 }, { name: n('positive'), partitions: 2 }, { name: n('negative'), partitions: 2 }]);
      await produce(log, n('events'), input);
      const runtime = await runUntilIdle(everything(n), log, state());
      assert.deepEqual(sortedLines(await readTopic(log, n('positive'), serdes.string(), serdes.int32())), expected.positive);
      assert.deepEqual(sortedLines(await readTopic(log, n('negative'), serdes.string(), serdes.int32())), expected.negative);
      assert.deepEqual(sortedLines(await readTopic(log, n('tagged'))), expected.tagged);
      const stats = runtime.stats();
      assert.equal(stats.recordsOut[n('positive')], expected.positive.length);
      assert.equal(stats.recordsOut[`${n('everything')}-by-user-repartition`], undefined, 'internal topics are not counted as output');
      assert.equal(stats.recordsIn, input.length, 'records in counts the input topic only');
      // The internal topic was created with the fixed partition count; 'tagged' with the widest input's.
      const described = await log.admin.describeTopics([`${n('everything')}-by-user-repartition`, n('tagged')]);
      assert.deepEqual(
        described.map((d) => [d.name, d.partitions, d.internal]),
        [
          [`${n('everything')}-by-user-repartition`, 3, true],
          [n('tagged'), 4, false],
        ],
      );
    });

    it('keeps a key on one partition, the same one Kafka would pick (murmur2)', async () => {
      await log.admin.createTopics([{ name: n('events'), partitions: 4 }]);
      await produce(log, n('events'), events(300, 3));
      await runUntilIdle(everything(n), log, state());
      const tagged = await readTopic(log, n('tagged'));
      const partitionOf = new Map<unknown, number>();
      for (const r of tagged) {
        if (partitionOf.has(r.key)) assert.equal(r.partition, partitionOf.get(r.key), `key ${String(r.key)} on two partitions`);
        partitionOf.set(r.key, r.partition);
      }
    });

    it('continues from the last commit after a restart: no record twice, none lost', async () => {
      const pass = app(n('pass'), (b) => b.stream(n('in')).to(n('out')));
      await log.admin.createTopics([{ name: n('in'), partitions: 2 }]);
      await produce(log, n('in'), events(500, 1).map(([k, v]) => [k, v.n]));
      await runUntilIdle(pass, log, state());
      await produce(log, n('in'), events(300, 2).map(([k, v]) => [k, 1000 + v.n]));
      await runUntilIdle(pass, log, state());
      const out = (await readTopic(log, n('out'))).map((r) => r.value as number).sort((a, b) => a - b);
      assert.equal(out.length, 800);
      assert.deepEqual(out, [...Array.from({ length: 500 }, (_, i) => i), ...Array.from({ length: 300 }, (_, i) => 1000 + i)]);
    });

    it('at-least-once: one plain producer and member offset commits; a restart continues from the last commit', async () => {
      const pass = app(n('alo'), (b) => b.stream(n('in')).mapValues((v) => v).to(n('out')), { processingGuarantee: 'at-least-once' });
      await log.admin.createTopics([{ name: n('in'), partitions: 3 }]);
      await produce(log, n('in'), events(400, 4).map(([k, v]) => [k, v.n]));
      const first = await runUntilIdle(pass, log, state());
      await produce(log, n('in'), events(200, 5).map(([k, v]) => [k, 1000 + v.n]));
      await runUntilIdle(pass, log, state());
      assert.ok(first.stats().commits > 0);
      const committed = await log.admin.committedOffsets(n('alo'), [n('in')]);
      assert.equal(committed.length, 3, 'offsets committed for every partition');
      // no failure happened, so at-least-once delivered each record exactly once here
      const out = (await readTopic(log, n('out'))).map((r) => r.value as number).sort((a, b) => a - b);
      assert.deepEqual(out, [...Array.from({ length: 400 }, (_, i) => i), ...Array.from({ length: 200 }, (_, i) => 1000 + i)]);
    });

    it('counts by key across a restart, restoring state from local checkpoints and the changelog', async () => {
      await log.admin.createTopics([{ name: n('words'), partitions: 4 }]);
      const words = ['ant', 'bee', 'cat', 'dog', 'eel', 'fox', 'gnu'];
      const batch = (count: number, seed: number): [string, unknown][] => events(count, seed).map(([k, v]) => [k, words[v.n % words.length]!]);
      const produceWords = async (pairs: [string, unknown][]) => {
        const producer = log.producer();
        await producer.send(pairs.map(([k, v], i) => ({ topic: n('words'), key: Buffer.from(k), value: Buffer.from(String(v)), timestamp: 1000 + i, headers: {} })));
        await producer.close();
      };
      const first = batch(700, 11);
      const second = batch(300, 12);
      await produceWords(first);
      await runUntilIdle(counter(n), log, state());
      await produceWords(second);
      // a second instance with an empty state dir: everything comes back from the changelog
      const again = await runUntilIdle(counter(n), log, state(1));
      assert.ok(again.stats().restored > 0, 'state restored from the changelog');
      const expected = new Map<string, number>();
      for (const [, w] of [...first, ...second]) expected.set(w as string, (expected.get(w as string) ?? 0) + 1);
      const last = new Map<string, number>();
      const seen = new Map<string, number[]>();
      for (const r of await readTopic(log, n('counts-out'), serdes.string(), serdes.int32())) {
        last.set(r.key as string, Number(r.value));
        seen.set(r.key as string, [...(seen.get(r.key as string) ?? []), Number(r.value)]);
      }
      assert.deepEqual(new Map([...last].sort()), new Map([...expected].sort()));
      // every update once, in order: 1, 2, 3, ... per key
      for (const [w, values] of seen) assert.deepEqual(values, Array.from({ length: values.length }, (_, i) => i + 1), `updates of ${w}`);
    });

    it('joins a stream with a table: partition p of both topics in one task', async () => {
      await log.admin.createTopics([{ name: n('clicks'), partitions: 4 }, { name: n('users'), partitions: 4 }]);
      const users: [string, unknown][] = Array.from({ length: 20 }, (_, i) => [`u${i}`, `name${i}`]);
      const producer = log.producer();
      await producer.send(users.map(([k, v]) => ({ topic: n('users'), key: Buffer.from(k), value: Buffer.from(String(v)), timestamp: 1, headers: {} })));
      await producer.send(Array.from({ length: 400 }, (_, i) => ({ topic: n('clicks'), key: Buffer.from(`u${i % 20}`), value: Buffer.from(`c${i}`), timestamp: 1000 + i, headers: {} })));
      await producer.close();
      await runUntilIdle(enricher(n), log, state());
      const out = await readTopic(log, n('enriched'), serdes.string(), serdes.string());
      assert.equal(out.length, 400);
      for (const r of out) assert.match(String(r.value), new RegExp(`^name${String(r.key).slice(1)}:c\\d+$`));
    });

    it('refuses to start when a source topic is missing, saying how to create it', async () => {
      const runtime = new StreamsRuntime(app(n('missing'), (b) => b.stream(n('nope')).to(n('out'))), { log, logger: silentLogger, stateDir: state() });
      await assert.rejects(runtime.start(), (err: unknown) => err instanceof TopicError && new RegExp(`'${n('nope')}'.*tributary topics --create ${n('nope')}`).test((err as Error).message));
    });

    it('pauses partitions under backpressure and still processes everything', async () => {
      const slow = app(n('small-buffers'), (b) => b.stream(n('in')).mapValues((v) => v).to(n('out')), { maxPollRecords: 50, maxBufferedRecordsPerPartition: 20, maxUncommittedRecords: 30 });
      await log.admin.createTopics([{ name: n('in'), partitions: 3 }]);
      await produce(log, n('in'), events(3000, 5).map(([k, v]) => [k, v.n]));
      const runtime = await runUntilIdle(slow, log, state());
      assert.equal((await readTopic(log, n('out'))).length, 3000);
      // Each loop commits once a task holds 30 uncommitted records: at least 3000 / (3 tasks * 30).
      assert.ok(runtime.stats().commits >= 3000 / 90, `commits early when the uncommitted output grows: ${runtime.stats().commits} commits`);
    });

    it('stops on a poison record under the fail handler without committing past it', async () => {
      const strict = app(n('strict'), (b) => b.stream(n('in'), { value: serdes.json<number>() }).to(n('out')));
      await log.admin.createTopics([{ name: n('in'), partitions: 1 }]);
      await produce(log, n('in'), [['a', 1]]);
      const producer = log.producer();
      await producer.send([{ topic: n('in'), key: null, value: Buffer.from('{bad'), timestamp: 5, headers: {} }]);
      await producer.close();
      const runtime = new StreamsRuntime(strict, { log, logger: silentLogger, pollMs: 20, stateDir: state() });
      await runtime.start();
      await assert.rejects(runtime.stopped, new RegExp(`record ${n('in')}-0@1`));
      const committed = await log.admin.committedOffsets(n('strict'), [n('in')]);
      assert.ok(committed.every((c) => c.offset <= 1), `committed past the poison record: ${JSON.stringify(committed)}`);
    });

    it('refuses to start a join of topics that are not co-partitioned, naming them', async () => {
      await log.admin.createTopics([{ name: n('orders'), partitions: 4 }, { name: n('customers'), partitions: 2 }]);
      const joined = app(n('copart'), (b) => {
        const customers = b.table(n('customers'));
        b.stream(n('orders')).join(customers, (o, c) => ({ o, c })).to(n('out'));
      });
      const runtime = new StreamsRuntime(joined, { log, logger: silentLogger, stateDir: state() });
      await assert.rejects(
        runtime.start(),
        (err: unknown) => err instanceof TopicError && new RegExp(`'${n('orders')}' \\(4 partitions\\), '${n('customers')}' \\(2 partitions\\) are joined`).test((err as Error).message),
      );
    });

    it('runs one instance per application id where the log allows one member (else shares the tasks)', async () => {
      await log.admin.createTopics([{ name: n('clicks'), partitions: 4 }, { name: n('users'), partitions: 4 }]);
      const first = new StreamsRuntime(enricher(n), { log, logger: silentLogger, pollMs: 20, stateDir: state(0) });
      await first.start();
      const second = new StreamsRuntime(enricher(n), { log, logger: silentLogger, pollMs: 20, stateDir: state(1) });
      if (log.capabilities.exclusiveGroupMember !== false) {
        await assert.rejects(second.start(), (err: unknown) => err instanceof ApplicationRunningError && /already running/.test((err as Error).message));
        await first.close();
        const third = new StreamsRuntime(enricher(n), { log, logger: silentLogger, stateDir: state(2) });
        await third.start();
        await third.close();
        return;
      }
      // Kafka: the second member joins, and the 4 tasks are shared 2 + 2, each with both its partitions
      await second.start();
      const users: [string, unknown][] = Array.from({ length: 20 }, (_, i) => [`u${i}`, `name${i}`]);
      const producer = log.producer();
      await producer.send(users.map(([k, v]) => ({ topic: n('users'), key: Buffer.from(k), value: Buffer.from(String(v)), timestamp: 1, headers: {} })));
      // the table first: a click processed before its user arrived has nothing to join
      await Promise.all([first.waitUntilIdle(IDLE_MS), second.waitUntilIdle(IDLE_MS)]);
      await producer.send(Array.from({ length: 400 }, (_, i) => ({ topic: n('clicks'), key: Buffer.from(`u${i % 20}`), value: Buffer.from(`c${i}`), timestamp: 1000 + i, headers: {} })));
      await producer.close();
      await Promise.all([first.waitUntilIdle(IDLE_MS), second.waitUntilIdle(IDLE_MS)]);
      const tasks = [first, second].map((r) => r.taskIds().sort());
      await Promise.all([first.close(), second.close()]);
      assert.deepEqual(tasks.map((t) => t.length), [2, 2], `tasks per instance: ${JSON.stringify(tasks)}`);
      assert.deepEqual([...tasks[0]!, ...tasks[1]!].sort(), ['0_0', '0_1', '0_2', '0_3']);
      const out = await readTopic(log, n('enriched'), serdes.string(), serdes.string());
      assert.equal(out.length, 400);
      for (const r of out) assert.match(String(r.value), new RegExp(`^name${String(r.key).slice(1)}:c\\d+$`));
    });
  });
}
