/**
 * End-to-end latency at a fixed input rate (issue 7), Tributary on Kafka beside Kafka Streams,
 * on the same broker in one run.
 *
 *   node --conditions=development --import tsx bench/latency.ts [--rate 10000] [--seconds 20]
 *     [--workloads w1,w2] [--guarantee exactly-once] [--commit-interval 100]
 *     [--engines kafka-streams,tributary-kafka,tributary-platformatic] [--record-cache 0]
 *
 * Per workload and engine: fresh input and output topics (8 partitions); the engine starts as a
 * child (bench/kafka-streams KafkaStreamsBench, or bench/suite-tributary.ts) told to expect
 * rate × seconds records; once it prints RUNNING, this process writes the workload's readings at
 * the fixed rate (a batch every 10 ms, each record's timestamp its send time) while a
 * read_committed consumer of the output records, for every output record, the time it was read
 * minus its timestamp (both engines keep the input record's timestamp). Reported: p50, p99 and
 * max of those latencies, after a warm-up of the first 10% of the input. Choose --rate at about
 * half of the measured throughput (issue 7: 50% of max; see bench/suite.ts figures). W2's output
 * is one count per update (no record cache unless --record-cache; Kafka Streams runs with its
 * default cache, which forwards at commit: its latency then includes the wait for the commit, as
 * Tributary's does under exactly-once anyway).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openKafkaLog } from '../src/log/kafka/index.js';
import type { ConsumedRecord } from '../src/log/types.js';
import { percentile, requireKafkaStreamsJar, startEngine } from './engine-child.js';
import { readings, type Workload } from './workloads.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '20' },
    workloads: { type: 'string', default: 'w1,w2' },
    guarantee: { type: 'string', default: 'exactly-once' },
    'commit-interval': { type: 'string', default: '100' },
    engines: { type: 'string', default: 'kafka-streams,tributary-kafka' },
    'record-cache': { type: 'string', default: '0' },
    partitions: { type: 'string', default: '8' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const total = rate * seconds;
const partitions = Number(values.partitions);
const guarantee = values.guarantee!;
const interval = Number(values['commit-interval']);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
requireKafkaStreamsJar(values.engines!.split(','));

const log = openKafkaLog({ brokers, clientId: 'bench-latency', logLevel: 'error' });
const runId = Date.now().toString(36);
const rows: string[] = [];

async function runEngine(engine: string, workload: Workload): Promise<{ p50: number; p99: number; max: number; outputs: number; error?: string }> {
  const name = `bench-latency-${runId}-${workload}-${engine}`;
  const input = `${name}-in`;
  const output = `${name}-out`;
  await log.admin.createTopics([{ name: input, partitions }, { name: output, partitions }]);
  const stateDir = mkdtempSync(join(tmpdir(), 'tributary-latency-'));
  const run = startEngine({
    engine, brokers, workload, input, output, appId: name, stateDir, guarantee: guarantee as 'exactly-once' | 'at-least-once',
    commitIntervalMs: interval, recordCache: values['record-cache']!, expectRecords: total,
  });
  const { child, out, exited } = run;
  try {
    try {
      await run.running();
    } catch (e) {
      return { p50: NaN, p99: NaN, max: NaN, outputs: 0, error: (e as Error).message };
    }
    // the output's reader first, from the start, at read_committed
    const consumer = log.consumer({ maxPollRecords: 10_000, isolationLevel: 'read_committed' });
    consumer.assign(Array.from({ length: partitions }, (_, p) => ({ topic: output, partition: p })));
    for (let p = 0; p < partitions; p++) consumer.seek({ topic: output, partition: p }, 0);
    const latencies: number[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const got: ConsumedRecord[] = await consumer.poll(50);
        const now = Date.now();
        for (const r of got) latencies.push(now - r.timestamp);
      }
    })();
    // the input at the fixed rate: a batch every 10 ms, timestamps = send time
    const producer = log.producer();
    const perTick = Math.max(1, Math.round(rate / 100));
    const started = Date.now();
    let sent = 0;
    for (const batch of readings(total, perTick)) {
      const due = started + (sent / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const ts = Date.now();
      await producer.send(batch.map((r) => ({ topic: input, key: r.key, value: r.value, timestamp: ts, headers: {} })));
      sent += batch.length;
    }
    await producer.close();
    const lag = Date.now() - started - seconds * 1000;
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 180_000))]);
    await new Promise((r) => setTimeout(r, 1000));
    reading = false;
    await reader;
    await consumer.close();
    const measured = latencies.slice(Math.floor(latencies.length / 10)).sort((a, b) => a - b);
    const error = code === 'timeout' ? 'the engine did not finish' : code !== 0 ? `exit ${code}: ${out.stderr.slice(-300)}` : lag > 1000 ? `the producer fell ${lag} ms behind the rate` : undefined;
    return { p50: percentile(measured, 50), p99: percentile(measured, 99), max: measured.at(-1) ?? NaN, outputs: latencies.length, error };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
    await log.admin.deleteTopics([input, output]).catch(() => undefined);
  }
}

const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB; load average ${loadavg()[0]!.toFixed(1)} at start`;
console.log(`latency at ${rate} records/s for ${seconds} s (${total} records), ${guarantee}, commit interval ${interval} ms, ${partitions} partitions; ${machine}`);
console.log('| workload | engine | p50 ms | p99 ms | max ms | outputs | note |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | --- |');
for (const workload of values.workloads!.split(',') as Workload[]) {
  for (const engine of values.engines!.split(',')) {
    const r = await runEngine(engine, workload);
    const row = `| ${workload} | ${engine} | ${Math.round(r.p50)} | ${Math.round(r.p99)} | ${Math.round(r.max)} | ${r.outputs} | ${r.error ?? ''} |`;
    rows.push(row);
    console.log(row);
  }
}
await log.close();
