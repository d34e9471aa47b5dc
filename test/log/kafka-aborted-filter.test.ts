/**
 * kafkajs 2.2.4 lets records of aborted transactions through at read_committed when several
 * producers' transactions interleave in one partition (its filter activates one aborted
 * transaction per record, in the broker's list order). Tributary patches it
 * (patches/kafkajs+2.2.4.patch, applied by patch-package at install): found by the chaos tests,
 * where the repartition topic is written by 8 tasks at once and aborted transactions leaked
 * into the counts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import { withKafka } from './kafka-broker.js';

const require = createRequire(import.meta.url);
const filter = require('kafkajs/src/consumer/filterAbortedMessages') as (a: { messages: unknown[]; abortedTransactions: unknown[] }) => { offset: string }[];

const message = (offset: number, producerId: number, key: Buffer | null = null) => ({ offset: String(offset), key, batchContext: { producerId: String(producerId), inTransaction: true } });
const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);

describe('read_committed with interleaved transactions', () => {
  test('the patched kafkajs filter drops every aborted record, whatever the order of the aborted list', () => {
    // producers 1 and 2 abort, interleaved; producer 3 commits
    const messages = [message(0, 1), message(1, 2), message(2, 3), message(3, 1), message(4, 2), message(5, 1, ABORT), message(6, 2, ABORT), message(7, 3, COMMIT)];
    const kept = filter({ messages, abortedTransactions: [{ producerId: '2', firstOffset: '1' }, { producerId: '1', firstOffset: '0' }] }).map((m) => m.offset);
    // the markers stay (kafkajs drops control records afterwards); of the data, only producer 3's
    assert.deepEqual(kept, ['2', '5', '6', '7']);
  });

  withKafka('read_committed with interleaved transactions on Kafka', (brokers) => {
    test('a Log consumer never returns records of aborted transactions interleaved with committed ones', async () => {
      const topic = `interleaved-${randomUUID().slice(0, 8)}`;
      const kafka = new Kafka({ clientId: 'interleave-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
      await admin.disconnect();
      const producers = ['a', 'b', 'c'].map((id) =>
        kafka.producer({ transactionalId: `${topic}-${id}`, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner }),
      );
      await Promise.all(producers.map((p) => p.connect()));
      const expected: string[] = [];
      for (let round = 0; round < 5; round++) {
        const txns = await Promise.all(producers.map((p) => p.transaction()));
        for (let i = 0; i < 4; i++) {
          for (const [n, txn] of txns.entries()) await txn.send({ topic, messages: [{ key: `${n}`, value: `r${round}-p${n}-${i}` }] });
        }
        // producer a and b abort, c commits: their records are interleaved record by record
        await txns[0]!.abort();
        await txns[1]!.abort();
        await txns[2]!.commit();
        for (let i = 0; i < 4; i++) expected.push(`r${round}-p2-${i}`);
      }
      await Promise.all(producers.map((p) => p.disconnect()));

      const log = openKafkaLog({ brokers, clientId: 'interleave-reader', logLevel: 'nothing' });
      try {
        const consumer = log.consumer({ isolationLevel: 'read_committed', maxPollRecords: 7 });
        consumer.assign([{ topic, partition: 0 }]);
        const got: string[] = [];
        for (let i = 0; i < 100 && got.length < expected.length; i++) for (const r of await consumer.poll(200)) got.push(r.value!.toString());
        const extra = await consumer.poll(500);
        await consumer.close();
        assert.deepEqual(got, expected);
        assert.deepEqual(extra.map((r) => r.value!.toString()), [], 'nothing else: no aborted record');
      } finally {
        await log.close();
      }
    });
  });
});
