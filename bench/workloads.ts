/**
 * The side-by-side workloads of bench/suite.ts (issue 7): the input generator and the Tributary
 * topologies. The Kafka Streams versions of the same topologies are in
 * bench/kafka-streams/src/main/java/tributary/bench/KafkaStreamsBench.java; keep the two in step.
 *
 * Input (one topic per workload, produced once and read by every engine):
 * - N readings: key `sensor-NNNNN` (12 bytes; one of 10,000 keys, drawn with a seeded PRNG),
 *   value JSON `{"sensor":…,"seq":i,"celsius":…,"site":"plant-north-7","unit":"celsius-x100"}`
 *   (~90-95 bytes), so ~105 bytes per record; timestamp 1_700_000_000_000 + i ms (one record per
 *   ms, increasing within each partition: nothing is late). Partitioned by murmur2 of the key
 *   (Kafka's default partitioner), P partitions.
 * - W4's table: the 10,000 sensors, key `sensor-NNNNN`, value `{"name":…,"site":"site-NN","model":"model-N"}`,
 *   timestamps 60 s before the first reading, same partition count (co-partitioned).
 * The PRNG (mulberry32, seed 0x7a1b) makes every run produce the same bytes for the same N.
 *
 * Workloads (names of Kafka Streams' SimpleBenchmark in brackets):
 * - w1 [streamprocesswithsink]: filter (celsius > -100: keeps all) + mapValues to
 *   `{sensor, seq, fahrenheit}`, JSON in and out.
 * - w2 [streamcount]: groupByKey().count() with a persistent store (Tributary: sqlite; Kafka
 *   Streams: RocksDB) and its changelog; counts out as 8-byte big-endian longs (Kafka's LongSerde).
 * - w3 [streamcountwindowed]: tumbling windows of 60 s with 5 s grace, count; out keyed `key@windowStart`.
 * - w4 [join, stream-table]: readings join the sensors table (the table's topic is its changelog on
 *   both sides), out `{sensor, seq, celsius, site, model}`.
 */
import { readFileSync } from 'node:fs';
import { app, serdes, TimeWindows, type App, type Serde } from '../src/index.js';
import type { Log, OutgoingRecord } from '../src/log/types.js';

export type Workload = 'w1' | 'w2' | 'w3' | 'w4';
export type Guarantee = 'exactly-once' | 'at-least-once';

export const WORKLOADS: Record<Workload, { title: string; simpleBenchmark: string }> = {
  w1: { title: 'W1 filter + mapValues', simpleBenchmark: 'streamprocesswithsink' },
  w2: { title: 'W2 count by key (store + changelog)', simpleBenchmark: 'streamcount' },
  w3: { title: 'W3 tumbling-window count (60 s, grace 5 s)', simpleBenchmark: 'streamcountwindowed' },
  w4: { title: 'W4 stream-table join', simpleBenchmark: 'join (stream-table)' },
};

export const KEYS = 10_000;
export const BASE_TS = 1_700_000_000_000;
export const WINDOW_MS = 60_000;
export const GRACE_MS = 5_000;
const SEED = 0x7a1b;

export interface Reading {
  sensor: string;
  seq: number;
  celsius: number;
  site: string;
  unit: string;
}

export interface Sensor {
  name: string;
  site: string;
  model: string;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sensorKey = (k: number) => `sensor-${String(k).padStart(5, '0')}`;

/** The N readings, in batches of `batchSize` records (topic left to the caller). */
export function* readings(total: number, batchSize = 10_000): Generator<{ key: Buffer; value: Buffer; timestamp: number }[]> {
  const rand = prng(SEED);
  let batch: { key: Buffer; value: Buffer; timestamp: number }[] = [];
  for (let i = 0; i < total; i++) {
    const k = Math.floor(rand() * KEYS);
    const celsius = Math.round((rand() * 40 - 5) * 100) / 100;
    const r: Reading = { sensor: sensorKey(k), seq: i, celsius, site: 'plant-north-7', unit: 'celsius-x100' };
    batch.push({ key: Buffer.from(r.sensor), value: Buffer.from(JSON.stringify(r)), timestamp: BASE_TS + i });
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export function sensors(): { key: Buffer; value: Buffer; timestamp: number }[] {
  const out = [];
  for (let k = 0; k < KEYS; k++) {
    const s: Sensor = { name: sensorKey(k), site: `site-${String(k % 50).padStart(2, '0')}`, model: `model-${k % 7}` };
    out.push({ key: Buffer.from(s.name), value: Buffer.from(JSON.stringify(s)), timestamp: BASE_TS - 60_000 });
  }
  return out;
}

export interface Produced {
  records: number;
  /** key + value bytes of the stream input (not the table). */
  bytes: number;
  ms: number;
}

/** Creates the workload's input topic(s) on the log and produces the input into them. */
export async function produceInput(log: Log, workload: Workload, topics: { input: string; table?: string }, total: number, partitions: number): Promise<Produced> {
  await log.admin.createTopics([{ name: topics.input, partitions }, ...(workload === 'w4' ? [{ name: topics.table!, partitions }] : [])]);
  const producer = log.producer();
  const t0 = performance.now();
  let bytes = 0;
  try {
    if (workload === 'w4') await producer.send(sensors().map((r) => ({ ...r, topic: topics.table!, headers: {} })));
    for (const batch of readings(total)) {
      const out: OutgoingRecord[] = new Array(batch.length);
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!;
        bytes += r.key.length + r.value.length;
        out[i] = { topic: topics.input, key: r.key, value: r.value, timestamp: r.timestamp, headers: {} };
      }
      await producer.send(out);
    }
  } finally {
    await producer.close();
  }
  return { records: total, bytes, ms: performance.now() - t0 };
}

/** Kafka's LongSerde on the wire (8 bytes, big-endian), for counts. */
export const int64: Serde<number> = {
  name: 'int64',
  serialize: (n) => {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(n));
    return b;
  },
  deserialize: (b) => Number(b.readBigInt64BE(0)),
};

export interface TributaryWorkloadOptions {
  applicationId: string;
  input: string;
  table?: string;
  output: string;
  guarantee: Guarantee;
  commitIntervalMs: number;
  /** AppConfig.recordCacheSize (0: every aggregation update forwarded). */
  recordCacheSize?: number;
  /** AppConfig.maxUncommittedRecords (default: the config's default). */
  maxUncommittedRecords?: number;
}

/** The Tributary topology of a workload: the same operators as KafkaStreamsBench.java. */
export function tributaryApp(workload: Workload, o: TributaryWorkloadOptions): App {
  return app(
    o.applicationId,
    (b) => {
      const s = b.stream(o.input, { key: serdes.string(), value: serdes.json<Reading>() });
      switch (workload) {
        case 'w1':
          s.filter((_, r) => r.celsius > -100)
            .mapValues((r) => ({ sensor: r.sensor, seq: r.seq, fahrenheit: r.celsius * 1.8 + 32 }))
            .to(o.output, { value: serdes.json() });
          break;
        case 'w2':
          s.groupByKey().count({ store: 'counts' }).toStream().to(o.output, { value: int64 });
          break;
        case 'w3':
          s.groupByKey()
            .windowedBy(TimeWindows.ofSize(WINDOW_MS).grace(GRACE_MS))
            .count({ store: 'window-counts' })
            .toStream()
            .map((w, n) => [`${w.key}@${w.window.start}`, n])
            .to(o.output, { key: serdes.string(), value: int64 });
          break;
        case 'w4': {
          const table = b.table(o.table!, { key: serdes.string(), value: serdes.json<Sensor>() });
          s.join(table, (r, t) => ({ sensor: r.sensor, seq: r.seq, celsius: r.celsius, site: t.site, model: t.model })).to(o.output, { value: serdes.json() });
          break;
        }
      }
    },
    {
      processingGuarantee: o.guarantee,
      commitIntervalMs: o.commitIntervalMs,
      recordCacheSize: o.recordCacheSize ?? 0,
      ...(o.maxUncommittedRecords !== undefined ? { maxUncommittedRecords: o.maxUncommittedRecords } : {}),
    },
  );
}

/** Peak resident set size of this process (VmHWM), in KiB; -1 where /proc is missing. */
export function peakRssKiB(status = '/proc/self/status'): number {
  try {
    const text = readFileSync(status, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(text);
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}
