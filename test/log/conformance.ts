/**
 * The conformance suite of the `Log` port: what every backend (the embedded log, Kafka) must do.
 * A backend's test file calls `logConformanceSuite(name, open)`; `open` gives a fresh log (the
 * tests use fresh topic and group names, so a shared broker works too) and a cleanup.
 *
 * Offsets are only compared after non-transactional appends: on Kafka, transaction markers and
 * aborted records take offsets too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { FencedError, TopicError } from '../../src/errors/index.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import type {
  ConsumedRecord,
  Headers,
  Log,
  LogConsumer,
  OutgoingRecord,
  RebalanceListener,
  TopicPartition,
} from '../../src/log/types.js';

export interface ConformanceTarget {
  log: Log;
  cleanup(): Promise<void>;
}

const suffix = randomBytes(3).toString('hex');
let counter = 0;
/** A fresh topic or group name. */
export function unique(prefix: string): string {
  return `${prefix}-${suffix}-${counter++}`;
}

export function record(
  topic: string,
  key: string | null,
  value: string | null,
  extra: { partition?: number; timestamp?: number; headers?: Headers } = {},
): OutgoingRecord {
  const r: OutgoingRecord = {
    topic,
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    timestamp: extra.timestamp ?? 1_700_000_000_000,
    headers: extra.headers ?? {},
  };
  if (extra.partition !== undefined) r.partition = extra.partition;
  return r;
}

export function text(b: Buffer | null): string | null {
  return b === null ? null : b.toString('utf8');
}

/** Polls until `count` records arrived (fails after `timeoutMs`). */
export async function pollUntil(consumer: LogConsumer, count: number, timeoutMs = 20_000): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    if (Date.now() > deadline) assert.fail(`expected ${count} records within ${timeoutMs} ms, got ${out.length}`);
    out.push(...(await consumer.poll(200)));
  }
  return out;
}

/** Polls for `ms` and returns everything that came (to show that nothing does). */
export async function pollFor(consumer: LogConsumer, ms: number): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) out.push(...(await consumer.poll(Math.max(1, Math.min(100, deadline - Date.now())))));
  return out;
}

export function recordingListener(): RebalanceListener & { assigned: TopicPartition[][]; revoked: TopicPartition[][] } {
  const assigned: TopicPartition[][] = [];
  const revoked: TopicPartition[][] = [];
  return {
    assigned,
    revoked,
    onAssigned(partitions) {
      assigned.push(partitions);
    },
    onRevoked(partitions) {
      revoked.push(partitions);
    },
  };
}

function byPartition(records: ConsumedRecord[]): Map<number, ConsumedRecord[]> {
  const m = new Map<number, ConsumedRecord[]>();
  for (const r of records) {
    const list = m.get(r.partition) ?? [];
    list.push(r);
    m.set(r.partition, list);
  }
  return m;
}

function sortTp(tps: TopicPartition[]): TopicPartition[] {
  return [...tps].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

function allPartitions(topic: string, n: number): TopicPartition[] {
  return Array.from({ length: n }, (_, partition) => ({ topic, partition }));
}

export function logConformanceSuite(name: string, open: () => Promise<ConformanceTarget>): void {
  async function withLog(fn: (log: Log) => Promise<void>): Promise<void> {
    const target = await open();
    try {
      await fn(target.log);
    } finally {
      await target.cleanup();
    }
  }

  describe(`Log conformance: ${name}`, () => {
    test('creates (idempotently), lists, describes and deletes topics', () =>
      withLog(async (log) => {
        const a = unique('topics-a');
        // Without a stored internal flag (Kafka), a topic is internal by its name, as the runtime names them.
        const storesFlag = log.capabilities.topicInternalFlag !== false;
        const b = storesFlag ? unique('topics-b') : `${unique('topics-b')}-changelog`;
        await log.admin.createTopics([{ name: a, partitions: 3 }, { name: b, partitions: 1, cleanupPolicy: 'compact', internal: true }]);
        await log.admin.createTopics([{ name: a, partitions: 3 }]);
        const names = await log.admin.listTopics();
        assert.ok(names.includes(a) && names.includes(b), `listTopics() has both: ${names.join(', ')}`);
        assert.deepEqual(await log.admin.describeTopics([a, b]), [
          { name: a, partitions: 3, cleanupPolicy: 'delete', internal: false },
          { name: b, partitions: 1, cleanupPolicy: 'compact', internal: true },
        ]);
        const missing = unique('no-such-topic');
        await assert.rejects(log.admin.describeTopics([missing]), (e: unknown) => e instanceof TopicError && e.message.includes(missing));
        await assert.rejects(log.admin.createTopics([{ name: a, partitions: 5 }]), TopicError);
        assert.deepEqual(await log.admin.offsets(a), [0, 1, 2].map((partition) => ({ partition, low: 0, high: 0 })));
        if (!storesFlag) {
          const plain = unique('topics-c');
          await log.admin.createTopics([{ name: plain, partitions: 1, internal: true }]);
          assert.equal((await log.admin.describeTopics([plain]))[0]!.internal, false, 'internal follows the name, not the flag');
          await log.admin.deleteTopics([plain]);
        }
        await log.admin.deleteTopics([b]);
        assert.ok(!(await log.admin.listTopics()).includes(b));
      }));

    test('appends and reads back in offset order per partition, with the offsets send() returned', () =>
      withLog(async (log) => {
        const t = unique('order');
        await log.admin.createTopics([{ name: t, partitions: 2 }]);
        const producer = log.producer();
        const first = await producer.send([
          ...Array.from({ length: 6 }, (_, i) => record(t, `k${i}`, `p0-${i}`, { partition: 0 })),
          ...Array.from({ length: 3 }, (_, i) => record(t, `k${i}`, `p1-${i}`, { partition: 1 })),
        ]);
        assert.deepEqual(
          first.map((o) => `${o.partition}:${o.offset}`),
          ['0:0', '0:1', '0:2', '0:3', '0:4', '0:5', '1:0', '1:1', '1:2'],
        );
        const second = await producer.send([record(t, 'x', 'p0-6', { partition: 0 }), record(t, 'y', 'p1-3', { partition: 1 })]);
        assert.deepEqual(second, [
          { topic: t, partition: 0, offset: 6 },
          { topic: t, partition: 1, offset: 3 },
        ]);
        assert.deepEqual(await log.admin.offsets(t), [
          { partition: 0, low: 0, high: 7 },
          { partition: 1, low: 0, high: 4 },
        ]);
        const consumer = log.consumer({});
        consumer.assign(allPartitions(t, 2));
        const parts = byPartition(await pollUntil(consumer, 11));
        assert.deepEqual(parts.get(0)!.map((r) => [r.offset, text(r.value)]), Array.from({ length: 7 }, (_, i) => [i, `p0-${i}`]));
        assert.deepEqual(parts.get(1)!.map((r) => [r.offset, text(r.value)]), Array.from({ length: 4 }, (_, i) => [i, `p1-${i}`]));
        assert.equal(consumer.position({ topic: t, partition: 0 }), 7);
        await consumer.close();
        await producer.close();
      }));

    test("keyed records go to Kafka's partition for the key; null keys are spread over the partitions", () =>
      withLog(async (log) => {
        const t = unique('keys');
        await log.admin.createTopics([{ name: t, partitions: 4 }]);
        const producer = log.producer();
        const keys = Array.from({ length: 20 }, (_, i) => `customer-${i}`);
        const sent = await producer.send(keys.map((k) => record(t, k, 'v')));
        sent.forEach((o, i) => assert.equal(o.partition, partitionForKey(Buffer.from(keys[i]!), 4), `key ${keys[i]}`));
        const unkeyed = await producer.send(Array.from({ length: 8 }, () => record(t, null, 'v')));
        assert.equal(new Set(unkeyed.map((o) => o.partition)).size, 4, 'null-key records reach every partition');
        await producer.close();
      }));

    test('round-trips headers, null keys, null values, empty buffers and timestamps', () =>
      withLog(async (log) => {
        const t = unique('roundtrip');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const big = randomBytes(70_000);
        const records: OutgoingRecord[] = [
          record(t, null, 'no key', { timestamp: 0 }),
          record(t, 'tombstone', null, { timestamp: 1 }),
          { topic: t, key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: 1_700_000_000_123, headers: {} },
          record(t, 'h', 'with headers', {
            timestamp: 8_640_000_000_000,
            headers: { 'trace-id': Buffer.from('abc'), 'ünïcode': Buffer.from([0, 255, 7]), empty: Buffer.alloc(0) },
          }),
          { topic: t, key: Buffer.from([0, 1, 2, 254, 255]), value: big, timestamp: 5, headers: {} },
        ];
        const producer = log.producer();
        await producer.send(records);
        const consumer = log.consumer({});
        consumer.assign([{ topic: t, partition: 0 }]);
        const got = await pollUntil(consumer, records.length);
        got.forEach((r, i) => {
          const want = records[i]!;
          assert.equal(r.topic, t);
          assert.equal(r.partition, 0);
          assert.equal(r.offset, i);
          assert.deepEqual(r.key, want.key, `key of record ${i}`);
          assert.deepEqual(r.value, want.value, `value of record ${i}`);
          assert.equal(r.timestamp, want.timestamp);
          assert.deepEqual(
            Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, [...v]])),
            Object.fromEntries(Object.entries(want.headers).map(([k, v]) => [k, [...v]])),
          );
        });
        assert.equal(got[0]!.key, null);
        assert.equal(got[1]!.value, null);
        assert.notEqual(got[2]!.key, null, 'an empty key is not a null key');
        await consumer.close();
        await producer.close();
      }));

    test('a transaction becomes visible atomically, across topics and partitions', () =>
      withLog(async (log) => {
        const t1 = unique('txn-a');
        const t2 = unique('txn-b');
        await log.admin.createTopics([{ name: t1, partitions: 2 }, { name: t2, partitions: 1 }]);
        const consumer = log.consumer({ isolationLevel: 'read_committed' });
        consumer.assign([...allPartitions(t1, 2), { topic: t2, partition: 0 }]);
        const producer = log.producer({ transactionalId: unique('txn-producer') });
        const txn = producer.beginTransaction();
        txn.send([record(t1, 'a', '1', { partition: 0 }), record(t1, 'b', '2', { partition: 1 })]);
        txn.send([record(t2, 'c', '3'), record(t1, 'd', '4', { partition: 0 })]);
        assert.deepEqual(await pollFor(consumer, 300), [], 'nothing is visible before commit');
        const result = await txn.commit();
        const got = await pollUntil(consumer, 4);
        // The commit reports, per partition written, the offset after its last record.
        for (const end of result.endOffsets) {
          const last = got.filter((r) => r.topic === end.topic && r.partition === end.partition).at(-1)!;
          assert.ok(end.offset > last.offset, `end offset ${end.offset} of ${end.topic}-${end.partition} is past its last record ${last.offset}`);
        }
        assert.deepEqual(result.endOffsets.map((e) => `${e.topic === t1 ? 'a' : 'b'}-${e.partition}`).sort(), ['a-0', 'a-1', 'b-0']);
        assert.deepEqual(got.map((r) => text(r.value)).sort(), ['1', '2', '3', '4']);
        const p0 = got.filter((r) => r.topic === t1 && r.partition === 0).map((r) => text(r.value));
        assert.deepEqual(p0, ['1', '4'], 'order within a partition is the order of send()');
        await consumer.close();
        await producer.close();
      }));

    test('an aborted transaction is never visible', () =>
      withLog(async (log) => {
        const t = unique('abort');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const producer = log.producer({ transactionalId: unique('abort-producer') });
        const aborted = producer.beginTransaction();
        aborted.send([record(t, 'k', 'aborted-1'), record(t, 'k', 'aborted-2')]);
        await aborted.abort();
        const committed = producer.beginTransaction();
        committed.send([record(t, 'k', 'committed')]);
        await committed.commit();
        const consumer = log.consumer({ isolationLevel: 'read_committed' });
        consumer.assign([{ topic: t, partition: 0 }]);
        const got = await pollUntil(consumer, 1);
        got.push(...(await pollFor(consumer, 300)));
        assert.deepEqual(got.map((r) => text(r.value)), ['committed']);
        await consumer.close();
        await producer.close();
      }));

    test('commits consumer-group offsets in the transaction that carries the output', () =>
      withLog(async (log) => {
        const input = unique('eos-in');
        const output = unique('eos-out');
        const group = unique('eos-group');
        await log.admin.createTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
        const producer = log.producer();
        await producer.send(Array.from({ length: 5 }, (_, i) => record(input, `k${i}`, `in-${i}`)));
        const listener = recordingListener();
        const consumer = log.consumer({ groupId: group });
        await consumer.subscribe([input], listener);
        const got = await pollUntil(consumer, 5);
        assert.deepEqual(listener.assigned, [[{ topic: input, partition: 0 }]]);
        const meta = consumer.groupMetadata();
        assert.equal(meta.groupId, group);
        const eos = log.producer({ transactionalId: unique('eos-producer') });
        const txn = eos.beginTransaction();
        txn.send(got.map((r) => record(output, text(r.key), `out-${text(r.value)}`)));
        txn.sendOffsets(meta, [{ topic: input, partition: 0, offset: got[got.length - 1]!.offset + 1 }]);
        await txn.commit();
        assert.deepEqual(await consumer.committed([{ topic: input, partition: 0 }]), [{ topic: input, partition: 0, offset: 5 }]);
        assert.deepEqual(await log.admin.committedOffsets(group, [input]), [{ topic: input, partition: 0, offset: 5 }]);
        await consumer.close();
        assert.equal(listener.revoked.length, 1, 'close() revokes the assignment');

        await producer.send([record(input, 'k5', 'in-5')]);
        const again = log.consumer({ groupId: group });
        await again.subscribe([input], recordingListener());
        const next = await pollUntil(again, 1);
        assert.deepEqual(next.map((r) => [r.offset, text(r.value)]), [[5, 'in-5']], 'a new member starts at the committed offset');
        const out = log.consumer({ isolationLevel: 'read_committed' });
        out.assign([{ topic: output, partition: 0 }]);
        assert.deepEqual((await pollUntil(out, 5)).map((r) => text(r.value)), got.map((r) => `out-${text(r.value)}`));
        await Promise.all([again.close(), out.close(), eos.close(), producer.close()]);
      }));

    // One test for both capabilities (nothing skipped): a log that fences by group generation
    // refuses a stale member's transaction; one that cannot (Kafka through kafkajs) accepts it,
    // which is the gap the transactional-id tests below close.
    test('a stale member (older generation) commits offsets in a transaction: fenced where the log fences by generation, else accepted', () =>
      withLog(async (log) => {
        const input = unique('zombie-in');
        const output = unique('zombie-out');
        const group = unique('zombie-group');
        await log.admin.createTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
        const producer = log.producer();
        await producer.send([record(input, 'k', 'v')]);
        const zombie = log.consumer({ groupId: group });
        await zombie.subscribe([input], recordingListener());
        await pollUntil(zombie, 1);
        const stale = zombie.groupMetadata();
        await zombie.close();
        const successor = log.consumer({ groupId: group });
        await successor.subscribe([input], recordingListener());
        await pollUntil(successor, 1);
        const current = successor.groupMetadata();
        assert.ok(current.generationId > stale.generationId, `generation ${current.generationId} > ${stale.generationId}`);

        const txnProducer = log.producer({ transactionalId: unique('zombie-producer') });
        const txn = txnProducer.beginTransaction();
        txn.send([record(output, 'k', 'from the zombie')]);
        txn.sendOffsets(stale, [{ topic: input, partition: 0, offset: 1 }]);
        const out = log.consumer({ isolationLevel: 'read_committed' });
        out.assign([{ topic: output, partition: 0 }]);
        if (log.capabilities.generationFencing) {
          await assert.rejects(txn.commit(), FencedError);
          assert.deepEqual(await log.admin.committedOffsets(group, [input]), [], 'no offset was committed');
          assert.deepEqual(await pollFor(out, 300), [], 'no record of the fenced transaction is visible');
        } else {
          await txn.commit(); // a KIP-447 broker check would refuse this; kafkajs' TxnOffsetCommit v0/v1 cannot ask for it
          assert.deepEqual(await log.admin.committedOffsets(group, [input]), [{ topic: input, partition: 0, offset: 1 }]);
          assert.equal((await pollUntil(out, 1)).length, 1, 'the stale transaction is visible: only a transactional id per task fences it');
        }
        await Promise.all([successor.close(), out.close(), txnProducer.close(), producer.close()]);
      }));

    test('fences a zombie task by transactional id: its successor\'s producer fences it and nothing of its commit is written', () =>
      withLog(async (log) => {
        const input = unique('task-in');
        const output = unique('task-out');
        const group = unique('task-group');
        const taskId = unique('app-0_0');
        await log.admin.createTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
        const producer = log.producer();
        await producer.send([record(input, 'k', 'v')]);
        const zombie = log.consumer({ groupId: group });
        await zombie.subscribe([input], recordingListener());
        await pollUntil(zombie, 1);
        const stale = zombie.groupMetadata();
        const zombieProducer = log.producer({ transactionalId: taskId });
        const zombieTxn = zombieProducer.beginTransaction();
        zombieTxn.send([record(output, 'k', 'from the zombie')]);
        zombieTxn.sendOffsets(stale, [{ topic: input, partition: 0, offset: 1 }]);
        await zombie.close();
        // the task moves: its new owner opens the task's producer, which fences the old one
        const successor = log.consumer({ groupId: group });
        await successor.subscribe([input], recordingListener());
        await pollUntil(successor, 1);
        const successorProducer = log.producer({ transactionalId: taskId });
        await assert.rejects(zombieTxn.commit(), FencedError);
        assert.deepEqual(await log.admin.committedOffsets(group, [input]), [], 'no offset was committed');
        const txn = successorProducer.beginTransaction();
        txn.send([record(output, 'k', 'from the successor')]);
        txn.sendOffsets(successor.groupMetadata(), [{ topic: input, partition: 0, offset: 1 }]);
        await txn.commit();
        const out = log.consumer({ isolationLevel: 'read_committed' });
        out.assign([{ topic: output, partition: 0 }]);
        const got = await pollUntil(out, 1);
        got.push(...(await pollFor(out, 300)));
        assert.deepEqual(got.map((r) => text(r.value)), ['from the successor']);
        assert.deepEqual(await log.admin.committedOffsets(group, [input]), [{ topic: input, partition: 0, offset: 1 }]);
        await Promise.all([successor.close(), out.close(), zombieProducer.close().catch(() => undefined), successorProducer.close(), producer.close()]);
      }));

    test('fences an older producer with the same transactionalId', () =>
      withLog(async (log) => {
        const t = unique('fence');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const id = unique('fenced-id');
        const old = log.producer({ transactionalId: id });
        const oldTxn = old.beginTransaction();
        oldTxn.send([record(t, 'k', 'from the old producer')]);
        const newer = log.producer({ transactionalId: id });
        await assert.rejects(oldTxn.commit(), FencedError);
        const txn = newer.beginTransaction();
        txn.send([record(t, 'k', 'from the new producer')]);
        await txn.commit();
        const consumer = log.consumer({ isolationLevel: 'read_committed' });
        consumer.assign([{ topic: t, partition: 0 }]);
        const got = await pollUntil(consumer, 1);
        got.push(...(await pollFor(consumer, 300)));
        assert.deepEqual(got.map((r) => text(r.value)), ['from the new producer']);
        await Promise.all([consumer.close(), old.close().catch(() => undefined), newer.close()]);
      }));

    test('pause, resume, seek and position', () =>
      withLog(async (log) => {
        const t = unique('flow');
        await log.admin.createTopics([{ name: t, partitions: 2 }]);
        const producer = log.producer();
        await producer.send([
          ...Array.from({ length: 4 }, (_, i) => record(t, 'k', `a${i}`, { partition: 0 })),
          ...Array.from({ length: 3 }, (_, i) => record(t, 'k', `b${i}`, { partition: 1 })),
        ]);
        const consumer = log.consumer({});
        const p0 = { topic: t, partition: 0 };
        const p1 = { topic: t, partition: 1 };
        consumer.assign([p0, p1]);
        assert.deepEqual(sortTp(consumer.assignment()), [p0, p1]);
        consumer.pause([p0]);
        const fromP1 = await pollUntil(consumer, 3);
        assert.ok(fromP1.every((r) => r.partition === 1), 'a paused partition returns nothing');
        assert.deepEqual(await pollFor(consumer, 200), []);
        assert.equal(consumer.position(p0), 0);
        assert.equal(consumer.position(p1), 3);
        consumer.resume([p0]);
        const fromP0 = await pollUntil(consumer, 4);
        assert.deepEqual(fromP0.map((r) => text(r.value)), ['a0', 'a1', 'a2', 'a3']);
        consumer.seek(p0, 2);
        assert.equal(consumer.position(p0), 2);
        const replay = await pollUntil(consumer, 2);
        assert.deepEqual(replay.map((r) => [r.offset, text(r.value)]), [[2, 'a2'], [3, 'a3']]);
        consumer.seek(p1, 0);
        assert.deepEqual((await pollUntil(consumer, 3)).map((r) => text(r.value)), ['b0', 'b1', 'b2']);
        await consumer.close();
        await producer.close();
      }));

    test('poll() returns at most maxPollRecords', () =>
      withLog(async (log) => {
        const t = unique('max-poll');
        await log.admin.createTopics([{ name: t, partitions: 2 }]);
        const producer = log.producer();
        await producer.send(Array.from({ length: 50 }, (_, i) => record(t, null, `v${i}`, { partition: i % 2 })));
        const consumer = log.consumer({ maxPollRecords: 7 });
        consumer.assign(allPartitions(t, 2));
        let total = 0;
        const deadline = Date.now() + 20_000;
        while (total < 50 && Date.now() < deadline) {
          const batch = await consumer.poll(200);
          assert.ok(batch.length <= 7, `poll returned ${batch.length} records`);
          total += batch.length;
        }
        assert.equal(total, 50);
        await consumer.close();
        await producer.close();
      }));

    test('poll() waits for new records and returns as soon as they arrive', () =>
      withLog(async (log) => {
        const t = unique('wake');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const consumer = log.consumer({});
        consumer.assign([{ topic: t, partition: 0 }]);
        const started = Date.now();
        assert.deepEqual(await consumer.poll(150), [], 'nothing there: poll returns empty after maxWaitMs');
        assert.ok(Date.now() - started >= 100, 'and it did wait');
        const producer = log.producer();
        const waiting = consumer.poll(15_000);
        const t0 = Date.now();
        setTimeout(() => void producer.send([record(t, 'k', 'late')]), 100);
        const got = await waiting;
        const waited = Date.now() - t0;
        assert.deepEqual(got.map((r) => text(r.value)), ['late']);
        assert.ok(waited < 5000, `poll woke up after ${waited} ms`);
        await consumer.close();
        await producer.close();
      }));

    test('a new member starts at the committed offset, else per autoOffsetReset', () =>
      withLog(async (log) => {
        const t = unique('reset');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const producer = log.producer();
        await producer.send([record(t, 'k', 'v0'), record(t, 'k', 'v1'), record(t, 'k', 'v2')]);

        const latest = log.consumer({ groupId: unique('latest'), autoOffsetReset: 'latest' });
        await latest.subscribe([t], recordingListener());
        assert.deepEqual(await pollFor(latest, 300), []);
        await producer.send([record(t, 'k', 'v3')]);
        assert.deepEqual((await pollUntil(latest, 1)).map((r) => r.offset), [3]);

        const earliest = log.consumer({ groupId: unique('earliest') });
        await earliest.subscribe([t], recordingListener());
        assert.deepEqual((await pollUntil(earliest, 4)).map((r) => r.offset), [0, 1, 2, 3]);

        const resetGroup = unique('set');
        await log.admin.setCommittedOffsets(resetGroup, [{ topic: t, partition: 0, offset: 2 }]);
        assert.deepEqual(await log.admin.committedOffsets(resetGroup, [t]), [{ topic: t, partition: 0, offset: 2 }]);
        const fromCommitted = log.consumer({ groupId: resetGroup, autoOffsetReset: 'latest' });
        await fromCommitted.subscribe([t], recordingListener());
        assert.deepEqual((await pollUntil(fromCommitted, 2)).map((r) => r.offset), [2, 3]);
        await Promise.all([latest.close(), earliest.close(), fromCommitted.close(), producer.close()]);
      }));

    test('subscribe() assigns every partition of the topics and close() revokes them', () =>
      withLog(async (log) => {
        const a = unique('assign-a');
        const b = unique('assign-b');
        await log.admin.createTopics([{ name: a, partitions: 3 }, { name: b, partitions: 2 }]);
        const listener = recordingListener();
        const consumer = log.consumer({ groupId: unique('assign-group') });
        await consumer.subscribe([a, b], listener);
        await consumer.poll(50);
        const want = sortTp([...allPartitions(a, 3), ...allPartitions(b, 2)]);
        assert.equal(listener.assigned.length, 1);
        assert.deepEqual(sortTp(listener.assigned[0]!), want);
        assert.deepEqual(sortTp(consumer.assignment()), want);
        assert.ok(consumer.groupMetadata().generationId >= 1);
        await consumer.close();
        assert.deepEqual(sortTp(listener.revoked[0]!), want);
      }));
  });
}
