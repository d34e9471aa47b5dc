/**
 * The Kafka backend beyond the conformance suite: fencing across processes (two logs, two
 * kafkajs clients), the kafkajs transaction bugs it must survive (tulios/kafkajs #1315, #1282,
 * #598) met with real broker faults where they can be caused, rebalances between members, and
 * backpressure. Fresh topic and group names per test; the broker comes from kafka-broker.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Producer } from 'kafkajs';
import { FencedError, TributaryError } from '../../src/errors/index.js';
import { KafkaConsumer } from '../../src/log/kafka/consumer.js';
import { KafkaLog, type KafkaLogOptions } from '../../src/log/kafka/index.js';
import type { KafkaProducer } from '../../src/log/kafka/producer.js';
import type { ConsumedRecord, LogConsumer, TopicPartition } from '../../src/log/types.js';
import { pollFor, pollUntil, record, recordingListener, text, unique } from './conformance.js';
import { withKafka } from './kafka-broker.js';
import { API, faultySockets, protocolError } from './kafka-faults.js';

function sortTp(tps: TopicPartition[]): string[] {
  return tps.map((t) => `${t.topic}-${t.partition}`).sort();
}

async function readAll(log: KafkaLog, topic: string, partitions: number, isolation: 'read_committed' | 'read_uncommitted', count: number): Promise<ConsumedRecord[]> {
  const c = log.consumer({ isolationLevel: isolation });
  c.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const got = await pollUntil(c, count, 30_000);
  got.push(...(await pollFor(c, 300)));
  await c.close();
  return got;
}

withKafka('Kafka log', (brokers) => {
  const options = (extra: Partial<KafkaLogOptions> = {}): KafkaLogOptions => ({ brokers, clientId: 'kafka-log-test', logLevel: 'nothing', ...extra });

  async function withLogs(n: number, fn: (...logs: KafkaLog[]) => Promise<void>, extra: Partial<KafkaLogOptions> = {}): Promise<void> {
    const logs = Array.from({ length: n }, () => new KafkaLog(options(extra)));
    try {
      await fn(...logs);
    } finally {
      await Promise.all(logs.map((l) => l.close().catch(() => undefined)));
    }
  }

  describe('fencing by transactional id across processes', () => {
    test('a producer registered in another process fences the older one at the broker', () =>
      withLogs(2, async (a, b) => {
        const t = unique('xfence');
        await a.admin.createTopics([{ name: t, partitions: 1 }]);
        const id = unique('xfence-id');
        const old = a.producer({ transactionalId: id });
        const first = old.beginTransaction();
        first.send([record(t, 'k', 'old-1')]);
        await first.commit(); // registered and working
        const oldTxn = old.beginTransaction();
        oldTxn.send([record(t, 'k', 'old-2')]);
        const newer = b.producer({ transactionalId: id });
        const txn = newer.beginTransaction();
        txn.send([record(t, 'k', 'new-1')]);
        await txn.commit(); // the newer producer has registered the id with the broker
        await assert.rejects(oldTxn.commit(), (e: unknown) => e instanceof FencedError && /fenced/.test((e as Error).message));
        assert.throws(() => old.beginTransaction(), FencedError, 'a fenced producer stays fenced');
        const got = await readAll(a, t, 1, 'read_committed', 2);
        assert.deepEqual(got.map((r) => text(r.value)), ['old-1', 'new-1']);
        await old.close();
        await newer.close();
      }));

    test("a zombie's task transaction carrying a stale member's offsets is fenced by the task's transactional id", () =>
      withLogs(2, async (zombieLog, successorLog) => {
        const input = unique('zin');
        const output = unique('zout');
        const group = unique('zgroup');
        const taskId = unique('zapp-0_0');
        await zombieLog.admin.createTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
        await zombieLog.producer().send([record(input, 'k', 'v')]);
        const zombie = zombieLog.consumer({ groupId: group });
        await zombie.subscribe([input], recordingListener());
        await pollUntil(zombie, 1);
        const zombieProducer = zombieLog.producer({ transactionalId: taskId });
        await (zombieProducer as KafkaProducer).registered();
        const zombieTxn = zombieProducer.beginTransaction();
        zombieTxn.send([record(output, 'k', 'from the zombie')]);
        zombieTxn.sendOffsets(zombie.groupMetadata(), [{ topic: input, partition: 0, offset: 1 }]);
        // the zombie stops answering; another process takes the task over
        await zombie.close();
        const successor = successorLog.consumer({ groupId: group });
        await successor.subscribe([input], recordingListener());
        await pollUntil(successor, 1);
        const successorProducer = successorLog.producer({ transactionalId: taskId });
        await (successorProducer as KafkaProducer).registered();
        await assert.rejects(zombieTxn.commit(), FencedError);
        assert.deepEqual(await successorLog.admin.committedOffsets(group, [input]), []);
        assert.deepEqual(await pollFor(successor, 200), []);
        await Promise.all([successor.close(), zombieProducer.close(), successorProducer.close()]);
      }));
  });

  describe('kafkajs transaction bugs', () => {
    test('#1315: back-to-back transactions with records and offsets all commit (CONCURRENT_TRANSACTIONS is retried)', () =>
      withLogs(1, async (log) => {
        const input = unique('b2b-in');
        const output = unique('b2b-out');
        const group = unique('b2b-group');
        await log.admin.createTopics([{ name: input, partitions: 2 }, { name: output, partitions: 2 }]);
        const producer = log.producer({ transactionalId: unique('b2b') }) as KafkaProducer;
        const meta = { groupId: group, generationId: -1, memberId: '' };
        const n = 60;
        let retries = 0;
        const t0 = Date.now();
        for (let i = 0; i < n; i++) {
          const txn = producer.beginTransaction();
          txn.send([record(output, `k${i}`, `v${i}`)]);
          txn.sendOffsets(meta, [{ topic: input, partition: i % 2, offset: i + 1 }]);
          await txn.commit();
          retries += producer.lastCommitStats!.concurrentTransactionRetries;
        }
        // offsets-only transactions: AddOffsetsToTxn is the request kafkajs does not retry
        for (let i = 0; i < 20; i++) {
          const txn = producer.beginTransaction();
          txn.sendOffsets(meta, [{ topic: input, partition: 0, offset: 1000 + i }]);
          await txn.commit();
          retries += producer.lastCommitStats!.concurrentTransactionRetries;
        }
        const perCommit = (Date.now() - t0) / (n + 20);
        assert.deepEqual(await log.admin.committedOffsets(group, [input]), [
          { topic: input, partition: 0, offset: 1019 },
          { topic: input, partition: 1, offset: n },
        ]);
        const got = await readAll(log, output, 2, 'read_committed', n);
        assert.equal(got.length, n);
        assert.ok(perCommit < 200, `a commit took ${perCommit.toFixed(1)} ms on average (kafkajs' default 300 ms retry would show here)`);
        process.stderr.write(`# #1315: ${n + 20} back-to-back commits, ${perCommit.toFixed(1)} ms each, ${retries} sendOffsets retries\n`);
        await producer.close();
      }));

    test('#1315/#430: CONCURRENT_TRANSACTIONS from AddOffsetsToTxn, which kafkajs does not retry, is retried', async () => {
      let failures = 2;
      const wrap = (p: Producer): Producer => {
        const transaction = p.transaction.bind(p);
        p.transaction = async () => {
          const txn = await transaction();
          const sendOffsets = txn.sendOffsets.bind(txn);
          txn.sendOffsets = async (offsets) => {
            if (failures-- > 0) {
              throw protocolError('CONCURRENT_TRANSACTIONS', 51, 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing');
            }
            return sendOffsets(offsets);
          };
          return txn;
        };
        return p;
      };
      const log = new KafkaLog(options(), { wrapProducer: wrap });
      try {
        const t = unique('concurrent-offsets');
        const group = unique('concurrent-offsets-group');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const producer = log.producer({ transactionalId: unique('concurrent-offsets') }) as KafkaProducer;
        const txn = producer.beginTransaction();
        txn.send([record(t, 'k', 'v')]);
        txn.sendOffsets({ groupId: group, generationId: -1, memberId: '' }, [{ topic: t, partition: 0, offset: 7 }]);
        await txn.commit();
        assert.equal(producer.lastCommitStats!.concurrentTransactionRetries, 2);
        assert.equal(producer.lastCommitStats!.attempts, 1, 'retried in place, not as a new transaction');
        assert.deepEqual(await log.admin.committedOffsets(group, [t]), [{ topic: t, partition: 0, offset: 7 }]);
        await producer.close();
      } finally {
        await log.close();
      }
    });

    test('#1282: EndTxn lost on the wire leaves kafkajs stuck in COMMITTING; the producer is replaced and the next commit works', async () => {
      const faults = faultySockets();
      const made: Producer[] = [];
      const log = new KafkaLog(options({ socketFactory: faults.socketFactory }), { wrapProducer: (p) => (made.push(p), p) });
      try {
        const t = unique('stuck-commit');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const producer = log.producer({ transactionalId: unique('stuck-commit') }) as KafkaProducer;
        await producer.registered();
        faults.cutOn(API.EndTxn);
        const first = producer.beginTransaction();
        first.send([record(t, 'k', 'lost')]);
        await assert.rejects(first.commit(), (e: unknown) => e instanceof TributaryError && e.retriable && /may or may not have committed/.test(e.message));
        assert.equal(faults.cuts.get(API.EndTxn), 1);
        await assert.rejects(made[0]!.transaction(), /Cannot call "beginTransaction" in state "COMMITTING"/, 'kafkajs is stuck, as in the issue');
        const second = producer.beginTransaction();
        second.send([record(t, 'k', 'kept')]);
        await second.commit();
        assert.equal(made.length, 2, 'the kafkajs producer was replaced once');
        const got = await readAll(log, t, 1, 'read_committed', 1);
        assert.deepEqual(got.map((r) => text(r.value)), ['kept'], 'EndTxn never arrived: the replacement aborted the first transaction');
        await producer.close();
      } finally {
        await log.close();
      }
    });

    test('#1282/#1355: a failed abort leaves kafkajs stuck in ABORTING; the producer is replaced', () => {
      const faults = faultySockets();
      const made: Producer[] = [];
      const log = new KafkaLog(options({ socketFactory: faults.socketFactory }), { wrapProducer: (p) => (made.push(p), p) });
      return (async () => {
        try {
          const input = unique('stuck-abort-in');
          const output = unique('stuck-abort-out');
          const group = unique('stuck-abort-group');
          await log.admin.createTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
          const producer = log.producer({ transactionalId: unique('stuck-abort') }) as KafkaProducer;
          await producer.registered();
          faults.cutOn(API.TxnOffsetCommit); // sendOffsets fails after the records went into the transaction
          faults.cutOn(API.EndTxn); // and so does the abort
          const meta = { groupId: group, generationId: -1, memberId: '' };
          const first = producer.beginTransaction();
          first.send([record(output, 'k', 'aborted')]);
          first.sendOffsets(meta, [{ topic: input, partition: 0, offset: 1 }]);
          await assert.rejects(first.commit(), TributaryError);
          assert.equal(faults.cuts.get(API.TxnOffsetCommit), 1);
          assert.equal(faults.cuts.get(API.EndTxn), 1);
          await assert.rejects(made[0]!.transaction(), /Cannot call "beginTransaction" in state "ABORTING"/, 'kafkajs is stuck, as in the issue');
          const second = producer.beginTransaction();
          second.send([record(output, 'k', 'committed')]);
          second.sendOffsets(meta, [{ topic: input, partition: 0, offset: 2 }]);
          await second.commit();
          assert.equal(made.length, 2, 'the kafkajs producer was replaced once');
          const clean = new KafkaLog(options());
          try {
            const got = await readAll(clean, output, 1, 'read_committed', 1);
            assert.deepEqual(got.map((r) => text(r.value)), ['committed']);
            const raw = await readAll(clean, output, 1, 'read_uncommitted', 2);
            assert.deepEqual(raw.map((r) => text(r.value)), ['aborted', 'committed'], 'the first attempt reached the broker and was aborted');
            assert.deepEqual(await clean.admin.committedOffsets(group, [input]), [{ topic: input, partition: 0, offset: 2 }]);
          } finally {
            await clean.close();
          }
          await producer.close();
        } finally {
          await log.close();
        }
      })();
    });

    test('#598: OUT_OF_ORDER_SEQUENCE_NUMBER in a transaction: the producer is replaced and the transaction retried, exactly once', async () => {
      let armed = 1;
      const made: Producer[] = [];
      const wrap = (p: Producer): Producer => {
        made.push(p);
        const transaction = p.transaction.bind(p);
        p.transaction = async () => {
          const txn = await transaction();
          const sendBatch = txn.sendBatch.bind(txn);
          txn.sendBatch = async (batch) => {
            const result = await sendBatch(batch); // the records really are in the transaction
            if (armed-- > 0) throw protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45, 'The broker received an out of order sequence number');
            return result;
          };
          return txn;
        };
        return p;
      };
      const log = new KafkaLog(options(), { wrapProducer: wrap });
      try {
        const t = unique('oooseq');
        await log.admin.createTopics([{ name: t, partitions: 2 }]);
        const producer = log.producer({ transactionalId: unique('oooseq') }) as KafkaProducer;
        const txn = producer.beginTransaction();
        txn.send([record(t, 'a', '1', { partition: 0 }), record(t, 'b', '2', { partition: 1 }), record(t, 'c', '3', { partition: 0 })]);
        const result = await txn.commit();
        assert.equal(producer.lastCommitStats!.attempts, 2);
        assert.equal(producer.lastCommitStats!.producerReplacements, 1);
        assert.equal(made.length, 2);
        const committed = await readAll(log, t, 2, 'read_committed', 3);
        assert.deepEqual(committed.map((r) => text(r.value)).sort(), ['1', '2', '3'], 'each record once');
        const raw = await readAll(log, t, 2, 'read_uncommitted', 6);
        assert.equal(raw.length, 6, 'the first attempt reached the broker (and was aborted)');
        const lastCommitted = Math.max(...committed.filter((r) => r.partition === 0).map((r) => r.offset));
        assert.ok(result.endOffsets.find((e) => e.partition === 0)!.offset > lastCommitted);
        await producer.close();
      } finally {
        await log.close();
      }
    });

    test('#598 outside transactions: concurrent send() calls are serialized; an out-of-sequence error replaces the producer', async () => {
      let armed = 0;
      const wrap = (p: Producer): Producer => {
        const sendBatch = p.sendBatch.bind(p);
        p.sendBatch = async (batch) => {
          if (armed > 0) {
            armed--;
            throw protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45, 'The broker received an out of order sequence number');
          }
          return sendBatch(batch);
        };
        return p;
      };
      const log = new KafkaLog(options(), { wrapProducer: wrap });
      try {
        const t = unique('concurrent');
        await log.admin.createTopics([{ name: t, partitions: 3 }]);
        const producer = log.producer() as KafkaProducer;
        const sends = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send([record(t, `k${i % 7}`, `v${i}`)])));
        const got = await readAll(log, t, 3, 'read_committed', 100);
        for (const p of [0, 1, 2]) {
          const values = got.filter((r) => r.partition === p).map((r) => Number(text(r.value)!.slice(1)));
          assert.deepEqual(values, [...values].sort((a, b) => a - b), `partition ${p} holds the sends in call order`);
        }
        assert.deepEqual(sends.map((s) => s[0]!.offset).sort((a, b) => a - b).length, 100);
        armed = 1;
        await assert.rejects(producer.send([record(t, 'x', 'lost')]), (e: unknown) => e instanceof TributaryError && /out of order/.test(e.message));
        assert.equal(producer.handle.generation, 1, 'not yet replaced before the failure is seen');
        await producer.send([record(t, 'x', 'after')]);
        assert.equal(producer.handle.generation, 2, 'replaced after the out-of-sequence error');
        await producer.close();
      } finally {
        await log.close();
      }
    });
  });

  describe('consumer groups', () => {
    test('a second member takes half the partitions: onRevoked first, no record of a revoked partition afterwards', () =>
      withLogs(2, async (a, b) => {
        const t = unique('rebalance');
        const group = unique('rebalance-group');
        await a.admin.createTopics([{ name: t, partitions: 4 }]);
        const producer = a.producer();
        await producer.send(Array.from({ length: 40 }, (_, i) => record(t, null, `v${i}`, { partition: i % 4 })));
        const events: string[] = [];
        let revokedAt = -1;
        const revokedSet = new Set<string>();
        const first = a.consumer({ groupId: group, maxPollRecords: 1 });
        const firstListener = {
          ...recordingListener(),
          assigned: [] as TopicPartition[][],
          revoked: [] as TopicPartition[][],
          onAssigned(tps: TopicPartition[]) {
            this.assigned.push(tps);
            events.push(`assigned ${sortTp(tps).join(',')}`);
          },
          onRevoked(tps: TopicPartition[]) {
            this.revoked.push(tps);
            revokedAt = events.length;
            for (const tp of tps) revokedSet.add(`${tp.topic}-${tp.partition}`);
            events.push(`revoked ${sortTp(tps).join(',')}`);
          },
        };
        await first.subscribe([t], firstListener);
        const firstRecords: ConsumedRecord[] = [];
        firstRecords.push(...(await pollUntil(first, 4)));
        assert.equal(firstListener.assigned[0]!.length, 4);
        const gen1 = first.groupMetadata().generationId;

        const second = b.consumer({ groupId: group });
        const secondListener = recordingListener();
        await second.subscribe([t], secondListener);
        const joining = second.poll(20_000);
        // the first member keeps polling: it learns of the rebalance, revokes, goes on with what it kept
        const deadline = Date.now() + 30_000;
        while (firstListener.revoked.length === 0 && Date.now() < deadline) {
          for (const r of await first.poll(100)) {
            firstRecords.push(r);
            events.push(`record ${r.topic}-${r.partition}`);
          }
        }
        await joining;
        assert.equal(firstListener.revoked.length, 1, 'the first member was told what it lost');
        const kept = sortTp(first.assignment());
        const gained = sortTp(secondListener.assigned.flat());
        assert.equal(kept.length + gained.length, 4);
        assert.deepEqual([...kept, ...gained].sort(), sortTp(Array.from({ length: 4 }, (_, partition) => ({ topic: t, partition }))));
        assert.deepEqual([...revokedSet].sort(), gained, 'revoked = what the other member got');
        assert.ok(first.groupMetadata().generationId > gen1, 'a new generation');
        await producer.send(Array.from({ length: 40 }, (_, i) => record(t, null, `w${i}`, { partition: i % 4 })));
        for (const r of await pollFor(first, 1500)) events.push(`record ${r.topic}-${r.partition}`);
        const after = events.slice(revokedAt + 1).filter((e) => e.startsWith('record ')).map((e) => e.slice(7));
        assert.ok(after.every((tp) => !revokedSet.has(tp)), `no record of a revoked partition after onRevoked: ${after.join(' ')}`);
        assert.ok(after.length > 0, 'the first member went on with the partitions it kept');
        await Promise.all([first.close(), second.close(), producer.close()]);
      }));

    test('a non-transactional commit() commits offsets as the member (a stale generation is fenced)', () =>
      withLogs(1, async (log) => {
        const t = unique('alos');
        const group = unique('alos-group');
        await log.admin.createTopics([{ name: t, partitions: 1 }]);
        const producer = log.producer();
        await producer.send([record(t, 'k', 'v0'), record(t, 'k', 'v1')]);
        const consumer = log.consumer({ groupId: group });
        await consumer.subscribe([t], recordingListener());
        await pollUntil(consumer, 2);
        const txn = producer.beginTransaction();
        txn.send([record(t, 'k', 'out')]);
        txn.sendOffsets(consumer.groupMetadata(), [{ topic: t, partition: 0, offset: 2 }]);
        await txn.commit();
        assert.deepEqual(await consumer.committed([{ topic: t, partition: 0 }]), [{ topic: t, partition: 0, offset: 2 }]);
        const stale = { ...consumer.groupMetadata(), generationId: consumer.groupMetadata().generationId - 1 };
        const late = producer.beginTransaction();
        late.sendOffsets(stale, [{ topic: t, partition: 0, offset: 3 }]);
        await assert.rejects(late.commit(), FencedError);
        await Promise.all([consumer.close(), producer.close()]);
      }));

    test('backpressure: a partition nobody polls stops fetching when its buffer is full', () =>
      withLogs(
        1,
        async (log) => {
          const t = unique('backpressure');
          await log.admin.createTopics([{ name: t, partitions: 1 }]);
          const producer = log.producer();
          // small sends: a fetch returns whole record batches, and one send is one batch
          for (let s = 0; s < 60; s++) {
            await producer.send(Array.from({ length: 50 }, (_, i) => record(t, null, `value-${s * 50 + i}`.padEnd(100, '.'), { partition: 0 })));
          }
          const consumer = log.consumer({ maxPollRecords: 10 }) as KafkaConsumer;
          consumer.assign([{ topic: t, partition: 0 }]);
          consumer.pause([{ topic: t, partition: 0 }]);
          await consumer.poll(1500); // starts, looks up the position, fetches in the background
          await new Promise((r) => setTimeout(r, 1000));
          const buffered = (consumer as unknown as { owned: Map<string, { buffered: number }> }).owned.get(`${t}-0`)!.buffered;
          assert.ok(buffered >= 200 && buffered < 200 + 200, `buffered ${buffered}: the limit (200) plus at most one fetch (~8 KiB)`);
          consumer.resume([{ topic: t, partition: 0 }]);
          const got = await pollUntil(consumer, 3000, 30_000);
          assert.deepEqual(got.map((r) => r.offset), Array.from({ length: 3000 }, (_, i) => i), 'every record once, in order');
          await consumer.close();
          await producer.close();
        },
        { consumer: { maxBufferedRecordsPerPartition: 200, maxBytesPerPartition: 8 * 1024 } },
      ));

    test('close() of a subscribed consumer revokes before it leaves; poll() after close is a ClosedError', () =>
      withLogs(1, async (log) => {
        const t = unique('close');
        await log.admin.createTopics([{ name: t, partitions: 2 }]);
        const consumer: LogConsumer = log.consumer({ groupId: unique('close-group') });
        let positionsAtRevoke: number[] = [];
        await consumer.subscribe([t], {
          onAssigned: () => undefined,
          onRevoked: (tps) => {
            positionsAtRevoke = tps.map((tp) => consumer.position(tp));
          },
        });
        await consumer.poll(100);
        await consumer.close();
        assert.deepEqual(positionsAtRevoke, [0, 0]);
        await assert.rejects(consumer.poll(10), /closed/);
      }));
  });
});
