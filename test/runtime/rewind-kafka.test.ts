/**
 * Rewinds on Kafka that must not lose records: the runtime's first commit fails with an unknown
 * outcome (EndTxn cut on the wire), so it drops the transaction's output and starts again from
 * the last commit. There is none yet, so "the last commit" is the beginning of each partition:
 * the consumer, already past the records of the dropped transaction, must be sought back there.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { app, serdes } from '../../src/index.js';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { withKafka } from '../log/kafka-broker.js';
import { API, faultySockets } from '../log/kafka-faults.js';

async function readValues(log: Log, topic: string, partitions: number): Promise<number[]> {
  const ends = await log.admin.offsets(topic);
  const consumer = log.consumer({ isolationLevel: 'read_committed' });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const out: number[] = [];
  const done = () => ends.every((e) => consumer.position({ topic, partition: e.partition }) >= e.high);
  for (let i = 0, empty = 0; i < 400 && empty < 10; i++) {
    const records = await consumer.poll(50);
    for (const r of records) out.push(Number(JSON.parse(r.value!.toString())));
    empty = records.length === 0 ? empty + 1 : 0;
    try {
      if (records.length === 0 && done()) break;
    } catch {
      // positions not known before the first poll answered
    }
  }
  await consumer.close();
  return out.sort((a, b) => a - b);
}

withKafka('rewinds on Kafka', (brokers) => {
  it('a first commit that fails is redone from the start of the partitions: nothing is lost', async () => {
    const suffix = randomUUID().slice(0, 8);
    const input = `rewind-in-${suffix}`;
    const output = `rewind-out-${suffix}`;
    const faults = faultySockets();
    const log = openKafkaLog({ brokers, clientId: 'rewind-test', logLevel: 'nothing', socketFactory: faults.socketFactory });
    const dir = mkdtempSync(join(tmpdir(), 'tributary-rewind-'));
    try {
      await log.admin.createTopics([{ name: input, partitions: 2 }]);
      const producer = log.producer();
      await producer.send(Array.from({ length: 400 }, (_, i) => ({ topic: input, key: Buffer.from(`k${i}`), value: Buffer.from(String(i)), timestamp: 1000 + i, headers: {} })));
      await producer.close();
      const pass = app(`rewind-${suffix}`, (b) => b.stream(input, { key: serdes.string(), value: serdes.string() }).mapValues((v) => v).to(output));
      const runtime = new StreamsRuntime(pass, { log, logger: silentLogger, pollMs: 20, stateDir: dir });
      faults.cutOn(API.EndTxn); // the runtime's first EndTxn never reaches the broker
      await runtime.start();
      // done when the group's committed offsets cover the input (an idle wait could end while the rewind is under way)
      const committedTotal = async () => (await log.admin.committedOffsets(`rewind-${suffix}`, [input])).reduce((n, c) => n + c.offset, 0);
      for (let i = 0; i < 600 && (await committedTotal()) < 400; i++) await new Promise((r) => setTimeout(r, 100));
      await runtime.close();
      assert.equal(faults.cuts.get(API.EndTxn), 1, 'the first commit was cut');
      assert.ok(runtime.stats().transactionAborts >= 1, 'the runtime dropped the failed transaction');
      const values = await readValues(log, output, 2);
      assert.deepEqual(values, Array.from({ length: 400 }, (_, i) => i), 'every input exactly once');
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
