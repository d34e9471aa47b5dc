/**
 * When the log cleaner compacts a segment holding an aborted transaction, it removes the
 * transaction's records and keeps their batch, empty, so the producer's state survives. kafkajs
 * 2.2.4 decodes such a batch to nothing and fetches the same offset again, forever: a state
 * store restoring its compacted changelog never reached the end (found by the broker-restart
 * test, where a restart aborts open transactions and rolls the segments the cleaner then takes).
 * Tributary patches kafkajs (patches/kafkajs+2.2.4.patch) to move past an empty batch, as the
 * Java consumer does.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import { withKafka } from './kafka-broker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cleaner's checkpoint file of the local broker scripts/kafka.sh runs on `brokers`' port. */
function cleanerCheckpoint(brokers: string): string {
  const port = brokers.split(',')[0]!.split(':')[1];
  const cache = process.env.TRIBUTARY_CACHE ?? join(homedir(), '.cache', 'tributary');
  return join(cache, `kafka-run-${port}`, 'data', 'cleaner-offset-checkpoint');
}

/** Whether the cleaner has cleaned partition 0 of `topic` up to at least `offset`. */
function cleanedUpTo(brokers: string, topic: string, offset: number): boolean {
  const file = cleanerCheckpoint(brokers);
  if (!existsSync(file)) return false;
  return readFileSync(file, 'utf8')
    .split('\n')
    .some((line) => {
      const [t, p, o] = line.trim().split(' ');
      return t === topic && p === '0' && Number(o) >= offset;
    });
}

withKafka('an aborted transaction emptied by the log cleaner', (brokers) => {
  describe('a compacted topic whose aborted transaction the cleaner emptied', () => {
    test('is read to its end at read_committed, with only the committed records', { timeout: 120_000 }, async () => {
      assert.ok(existsSync(join(cleanerCheckpoint(brokers), '..')), `this test needs the local broker of scripts/kafka.sh (no data dir at ${cleanerCheckpoint(brokers)})`);
      const topic = `cleaned-aborted-${randomUUID().slice(0, 8)}`;
      const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'cleaned-aborted-test', logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      // segments roll every 100 ms and are cleaned as soon as they are dirty at all
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: 1,
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'segment.ms', value: '100' },
              { name: 'min.cleanable.dirty.ratio', value: '0.01' },
              { name: 'min.compaction.lag.ms', value: '0' },
            ],
          },
        ],
      });
      await admin.disconnect();
      // (the kafkajs client writes the aborted transaction below)
      const log = openKafkaLog({ brokers, clientId: 'cleaned-aborted-test', logLevel: 'nothing' });
      try {
        const record = (key: string, value: string) => ({ topic, partition: 0, key: Buffer.from(key), value: Buffer.from(value), timestamp: Date.now(), headers: {} });
        // committed records first (offsets 0..2)
        const plain = log.producer();
        await plain.send([0, 1, 2].map((i) => record(`c${i}`, 'committed')));
        await plain.close();
        // then a transaction written to the log (offsets 3..22) and aborted, with kafkajs itself
        // (Tributary's own transactions write only at commit); the wait rolls the segment, so the
        // abort marker (23) is alone in the active segment, which the cleaner leaves alone. The
        // cleaned segment then ends with the emptied batch, and a fetch from 3 (a fetch reads one
        // segment) returns just that batch: the case that stalled a restore.
        await sleep(300);
        const txnProducer = kafka.producer({ transactionalId: `${topic}-txn`, idempotent: true, maxInFlightRequests: 1 });
        await txnProducer.connect();
        const aborted = await txnProducer.transaction();
        await aborted.send({ topic, messages: Array.from({ length: 20 }, (_, i) => ({ key: `a${i}`, value: 'aborted' })) });
        await sleep(300);
        await aborted.abort();
        await txnProducer.disconnect();
        const [end] = await log.admin.offsets(topic);
        // wait for the cleaner (log.cleaner.backoff.ms=1000 in kafka.sh's broker) to clean past the aborted batch
        const until = Date.now() + 60_000;
        while (!cleanedUpTo(brokers, topic, 23)) {
          assert.ok(Date.now() < until, `the log cleaner did not clean ${topic} within 60 s`);
          await sleep(500);
        }
        const consumer = log.consumer({ isolationLevel: 'read_committed' });
        consumer.assign([{ topic, partition: 0 }]);
        consumer.seek({ topic, partition: 0 }, 0);
        const values: string[] = [];
        const readUntil = Date.now() + 20_000;
        while (consumer.position({ topic, partition: 0 }) < end!.high) {
          assert.ok(Date.now() < readUntil, `stuck at offset ${consumer.position({ topic, partition: 0 })} of ${end!.high}: the emptied batch was not skipped`);
          for (const r of await consumer.poll(200)) values.push(r.value!.toString());
        }
        await consumer.close();
        assert.deepEqual(values, ['committed', 'committed', 'committed']);
      } finally {
        await log.close();
      }
    });
  });
});
