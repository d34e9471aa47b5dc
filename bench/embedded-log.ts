/**
 * Embedded log throughput: append and fetch of 1M records of ~100 bytes (10-byte key, 90-byte
 * value, no headers) in 8 partitions, on a fresh file in the OS temp dir.
 *
 *   node --import tsx bench/embedded-log.ts [records] [durability: normal|full]
 *
 * Appends in calls of 1000 records: (a) send() to one partition per call, (b) send() of keyed
 * records spread over the 8 partitions, (c) transactions of 1000 keyed records (the runtime's
 * exactly-once path). Fetch reads topic (a) back with poll(), 1000 records a poll, touching every
 * key and value. Prints records/s and MB/s of record payload.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedLog } from '../src/log/embedded/index.js';
import type { Log, OutgoingRecord } from '../src/log/types.js';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const durability = (process.argv[3] ?? 'normal') as 'normal' | 'full';
const BATCH = 1000;
const PARTITIONS = 8;
const RECORD_BYTES = 100;

function makeBatches(topic: string, distinct: number, withPartition: boolean): OutgoingRecord[][] {
  const batches: OutgoingRecord[][] = [];
  const now = Date.now();
  for (let b = 0; b < distinct; b++) {
    const batch: OutgoingRecord[] = [];
    for (let i = 0; i < BATCH; i++) {
      const n = b * BATCH + i;
      const key = Buffer.from(`key-${String(n % 100_000).padStart(6, '0')}`); // 10 bytes
      const value = Buffer.alloc(RECORD_BYTES - key.length, n % 251);
      const r: OutgoingRecord = { topic, key, value, timestamp: now + n, headers: {} };
      if (withPartition) r.partition = b % PARTITIONS;
      batch.push(r);
    }
    batches.push(batch);
  }
  return batches;
}

function report(name: string, records: number, ms: number): void {
  const perSec = (records / ms) * 1000;
  const mbPerSec = (records * RECORD_BYTES) / 1e6 / (ms / 1000);
  console.log(`${name.padEnd(52)} ${Math.round(perSec).toLocaleString('en-US').padStart(11)} records/s  ${mbPerSec.toFixed(1).padStart(6)} MB/s  (${ms.toFixed(0)} ms)`);
}

async function appendBench(log: Log, name: string, topic: string, mode: 'partition' | 'keyed' | 'transaction'): Promise<void> {
  const batches = makeBatches(topic, PARTITIONS * 2, mode === 'partition');
  const producer = log.producer(mode === 'transaction' ? { transactionalId: `bench-${topic}` } : {});
  const calls = TOTAL / BATCH;
  const start = performance.now();
  for (let c = 0; c < calls; c++) {
    const batch = batches[c % batches.length]!;
    if (mode === 'transaction') {
      const txn = producer.beginTransaction();
      txn.send(batch);
      await txn.commit();
    } else {
      await producer.send(batch);
    }
  }
  report(name, TOTAL, performance.now() - start);
  await producer.close();
}

async function fetchBench(log: Log, name: string, topic: string, maxPollRecords: number): Promise<void> {
  const consumer = log.consumer({ maxPollRecords });
  consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
  let read = 0;
  let bytes = 0;
  const start = performance.now();
  while (read < TOTAL) {
    const records = await consumer.poll(0);
    if (records.length === 0) throw new Error(`fetch stalled at ${read} records`);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      bytes += r.key!.length + r.value!.length;
    }
    read += records.length;
  }
  report(name, read, performance.now() - start);
  if (bytes !== read * RECORD_BYTES) throw new Error(`read ${bytes} bytes, expected ${read * RECORD_BYTES}`);
  await consumer.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  const path = join(dir, 'log.db');
  const log = openEmbeddedLog({ path, durability });
  try {
    await log.admin.createTopics(['warmup', 'by-partition', 'keyed', 'transactional'].map((name) => ({ name, partitions: PARTITIONS })));
    console.log(`embedded log: ${TOTAL.toLocaleString('en-US')} records of ${RECORD_BYTES} bytes, ${PARTITIONS} partitions, batches of ${BATCH}, durability=${durability}, node ${process.version}`);
    // warm up the JIT on a small topic first
    const warm = log.producer();
    for (const batch of makeBatches('warmup', 20, false)) await warm.send(batch);
    const wc = log.consumer({});
    wc.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'warmup', partition })));
    while ((await wc.poll(0)).length > 0);
    await wc.close();

    await appendBench(log, 'append: send(), 1000 records to one partition', 'by-partition', 'partition');
    await appendBench(log, 'append: send(), 1000 keyed records over 8 partitions', 'keyed', 'keyed');
    await appendBench(log, 'append: transactions of 1000 keyed records', 'transactional', 'transaction');
    await fetchBench(log, 'fetch: poll() of 1000, 8 partitions (1000-rec rows)', 'by-partition', 1000);
    await fetchBench(log, 'fetch: poll() of 1000, 8 partitions (125-rec rows)', 'keyed', 1000);
    await fetchBench(log, 'fetch: poll() of 10000, 8 partitions (1000-rec rows)', 'by-partition', 10_000);
    console.log(`file: ${(statSync(path).size / 1e6).toFixed(0)} MB`);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
