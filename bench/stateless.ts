/**
 * Throughput of a stateless topology (filter + mapValues) on the embedded log.
 *
 *   node --import tsx bench/stateless.ts [--records 1000000] [--partitions 8] [--workload filter-map|json-pass|bytes-pass]
 *
 * Workloads: filter-map (the figure of record: JSON in, filter + mapValues, JSON out);
 * json-pass (JSON in and out, no operator: the serde cost); bytes-pass (no serde at all: the
 * floor set by the log and the runtime).
 * 1. produces N JSON records of ~100 bytes over P partitions (10k distinct keys, fixed seed),
 * 2. runs the topology in this process with exactly-once commits until every record is out,
 * 3. prints records/s for producing and for the pipeline, and the peak RSS.
 * The pipeline figure counts from start() to the last output committed, so it includes
 * fetching, deserializing, processing, serializing and the transactional commits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { app, serdes } from '../src/index.js';
import { openEmbeddedLog } from '../src/log/embedded/index.js';
import type { OutgoingRecord } from '../src/log/types.js';
import { silentLogger } from '../src/runtime/logger.js';
import { StreamsRuntime } from '../src/runtime/streams-runtime.js';

const { values } = parseArgs({
  options: { records: { type: 'string', default: '1000000' }, partitions: { type: 'string', default: '8' }, workload: { type: 'string', default: 'filter-map' } },
});
const workload = values.workload!;
if (!['filter-map', 'json-pass', 'bytes-pass'].includes(workload)) throw new Error(`--workload must be filter-map, json-pass or bytes-pass, got ${workload}`);
const total = Number(values.records);
const partitions = Number(values.partitions);

interface Reading {
  sensor: string;
  seq: number;
  celsius: number;
  site: string;
  unit: string;
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
const log = openEmbeddedLog({ path: join(dir, 'log.db') });
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

try {
  await log.admin.createTopics([{ name: 'readings', partitions }]);
  const producer = log.producer();
  const t0 = performance.now();
  const batch: OutgoingRecord[] = [];
  let bytes = 0;
  for (let i = 0; i < total; i++) {
    const value: Reading = { sensor: `sensor-${i % 10_000}`, seq: i, celsius: ((i * 7919) % 4000) / 100 - 5, site: 'plant-north-7', unit: 'celsius-x100' };
    const v = Buffer.from(JSON.stringify(value));
    bytes += v.length;
    batch.push({ topic: 'readings', key: Buffer.from(value.sensor), value: v, timestamp: 1_700_000_000_000 + i, headers: {} });
    if (batch.length === 10_000) {
      await producer.send(batch);
      batch.length = 0;
    }
  }
  if (batch.length > 0) await producer.send(batch);
  const produceMs = performance.now() - t0;
  await producer.close();

  const bench = app('bench-stateless', (b) => {
    if (workload === 'bytes-pass') b.stream('readings', { key: serdes.bytes(), value: serdes.bytes() }).to('readings-f');
    else if (workload === 'json-pass') b.stream('readings', { key: serdes.string(), value: serdes.json<Reading>() }).to('readings-f');
    else
      b.stream('readings', { key: serdes.string(), value: serdes.json<Reading>() })
        .filter((_, r) => r.celsius > -100)
        .mapValues((r) => ({ sensor: r.sensor, seq: r.seq, fahrenheit: r.celsius * 1.8 + 32 }))
        .to('readings-f');
  }, { commitIntervalMs: 100 });

  const runtime = new StreamsRuntime(bench, { log, logger: silentLogger });
  const t1 = performance.now();
  await runtime.start();
  let out = 0;
  while (out < total) {
    await new Promise((r) => setTimeout(r, 20));
    out = (await log.admin.offsets('readings-f')).reduce((n, p) => n + p.high, 0);
  }
  const pipelineMs = performance.now() - t1;
  await runtime.close();
  clearInterval(rssTimer);

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`records: ${fmt(total)} (${(bytes / total).toFixed(0)} B values), partitions: ${partitions}`);
  console.log(`produce:  ${fmt(produceMs)} ms, ${fmt(total / (produceMs / 1000))} records/s`);
  console.log(`pipeline: ${fmt(pipelineMs)} ms, ${fmt(total / (pipelineMs / 1000))} records/s (${workload}, exactly-once, commit every 100 ms)`);
  console.log(`peak RSS: ${(peakRss / 1024 / 1024).toFixed(0)} MiB`);
} finally {
  clearInterval(rssTimer);
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}
