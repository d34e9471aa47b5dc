/**
 * Tributary on the local Kafka broker beside the raw kafkajs ceiling, in one run.
 *
 *   node --conditions=development --import tsx bench/kafka-runtime.ts [--records 300000] [--partitions 8]
 *
 * Broker: KAFKA_BROKERS, else `scripts/kafka.sh up` (started if needed, left running). Steps:
 * 1. the raw kafkajs consume -> produce ceiling: bench/kafka-raw.ts as a child process with the
 *    same record count and partitions (at-least-once and exactly-once);
 * 2. for each workload (stateless filter + mapValues; count by key with a persistent store and a
 *    changelog) and each guarantee (exactly-once, at-least-once): N JSON records of ~100 bytes over
 *    P partitions (10k distinct keys) into a fresh topic, then one StreamsRuntime in this process
 *    until every input is processed and committed; records/s from start() to the last commit;
 * 3. prints a table with each figure's ratio to the raw ceiling of the same guarantee, and peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { app, serdes, type App } from '../src/index.js';
import { openKafkaLog } from '../src/log/kafka/index.js';
import type { Log, OutgoingRecord } from '../src/log/types.js';
import { silentLogger } from '../src/runtime/logger.js';
import { StreamsRuntime } from '../src/runtime/streams-runtime.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '300000' }, partitions: { type: 'string', default: '8' } } });
const total = Number(values.records);
const partitions = Number(values.partitions);
const root = new URL('..', import.meta.url).pathname;

function brokers(): string {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  const up = spawnSync('bash', [join(root, 'scripts/kafka.sh'), 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (up.status !== 0) throw new Error('scripts/kafka.sh up failed');
  return up.stdout.trim().split('\n').at(-1)!;
}
const address = brokers();

// 1. the raw ceiling, same broker, same run
const raw = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench/kafka-raw.ts'), '--records', String(total), '--partitions', String(partitions), '--mode', 'both'], {
  encoding: 'utf8',
  env: { ...process.env, KAFKA_BROKERS: address },
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (raw.status !== 0) throw new Error(`bench/kafka-raw.ts failed: ${raw.stdout}`);
const rawRate = (mode: string) => Number(new RegExp(`\\(${mode}\\): .* = ([\\d,]+) records/s`).exec(raw.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
const ceiling = { 'at-least-once': rawRate('plain'), 'exactly-once': rawRate('eos') };

interface Reading {
  sensor: string;
  seq: number;
  celsius: number;
  site: string;
  unit: string;
}

const run = Math.random().toString(36).slice(2, 8);
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

async function produceInput(log: Log, topic: string): Promise<void> {
  await log.admin.createTopics([{ name: topic, partitions }]);
  const producer = log.producer();
  let batch: OutgoingRecord[] = [];
  for (let i = 0; i < total; i++) {
    const value: Reading = { sensor: `sensor-${i % 10_000}`, seq: i, celsius: ((i * 7919) % 4000) / 100 - 5, site: 'plant-north-7', unit: 'celsius-x100' };
    batch.push({ topic, key: Buffer.from(value.sensor), value: Buffer.from(JSON.stringify(value)), timestamp: 1_700_000_000_000 + i, headers: {} });
    if (batch.length === 10_000) {
      await producer.send(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await producer.send(batch);
  await producer.close();
}

function topology(workload: 'stateless' | 'count', guarantee: 'exactly-once' | 'at-least-once', input: string): App {
  return app(
    `bench-${workload}-${guarantee}-${run}`,
    (b) => {
      const s = b.stream(input, { key: serdes.string(), value: serdes.json<Reading>() });
      if (workload === 'stateless') {
        s.filter((_, r) => r.celsius > -100)
          .mapValues((r) => ({ sensor: r.sensor, seq: r.seq, fahrenheit: r.celsius * 1.8 + 32 }))
          .to(`${input}-out`);
      } else {
        s.groupByKey().count({ store: 'counts' }).toStream().to(`${input}-out`, { value: serdes.int32() });
      }
    },
    { processingGuarantee: guarantee, commitIntervalMs: 100 },
  );
}

async function measure(workload: 'stateless' | 'count', guarantee: 'exactly-once' | 'at-least-once'): Promise<number> {
  const log = openKafkaLog({ brokers: address, clientId: 'bench-kafka-runtime', logLevel: 'error' });
  const dir = mkdtempSync(join(tmpdir(), 'tributary-kbench-'));
  try {
    const input = `bench-${workload}-${guarantee}-${run}`;
    await produceInput(log, input);
    const runtime = new StreamsRuntime(topology(workload, guarantee, input), { log, logger: silentLogger, stateDir: dir });
    const t0 = performance.now();
    await runtime.start();
    let lastCommitAt = t0;
    let lastCommits = 0;
    // done when every input is taken and a commit came after it
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      const s = runtime.stats();
      if (s.commits !== lastCommits) {
        lastCommits = s.commits;
        lastCommitAt = performance.now();
      }
      if (s.recordsIn >= total && performance.now() - lastCommitAt > 300) break;
    }
    const ms = lastCommitAt - t0;
    await runtime.close();
    return total / (ms / 1000);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[] = [];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
for (const workload of ['stateless', 'count'] as const) {
  for (const guarantee of ['exactly-once', 'at-least-once'] as const) {
    const rate = await measure(workload, guarantee);
    const ratio = rate / ceiling[guarantee];
    rows.push(`| ${workload === 'stateless' ? 'filter + mapValues' : 'count by key (sqlite, changelog)'} | ${guarantee} | ${fmt(rate)} | ${fmt(ceiling[guarantee])} | ${ratio.toFixed(2)} |`);
    console.error(rows.at(-1));
  }
}
clearInterval(rssTimer);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; broker ${address}; ${total} records over ${partitions} partitions`);
console.log(raw.stdout.trim());
console.log('| workload | guarantee | Tributary records/s | raw kafkajs records/s | ratio |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
console.log(`peak RSS (Tributary process): ${(peakRss / 1024 / 1024).toFixed(0)} MiB`);
