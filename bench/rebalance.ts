/**
 * How long processing stops when a pod joins (issue 7): an instance is added to a running
 * application while input arrives at a fixed rate; Kafka Streams beside Tributary on each of its
 * Kafka clients, on the same broker in one run.
 *
 *   KAFKA_BROKERS=127.0.0.1:19092 node --conditions=development --import tsx bench/rebalance.ts
 *     [--rate 20000] [--seconds 30] [--join-at 10] [--workload w1|w2] [--commit-interval 100]
 *     [--engines kafka-streams,tributary-kafka,tributary-platformatic]
 *
 * Per engine: fresh topics (8 partitions); instance A starts as a child (KafkaStreamsBench or
 * bench/suite-tributary.ts, exactly-once); once it prints RUNNING, this process writes the
 * workload's readings at the fixed rate (a batch every 10 ms, each record's timestamp its send
 * time) while a read_committed consumer reads the output; at --join-at seconds instance B of the
 * same application starts with its own state directory, and the group rebalances. Reported, for
 * the records written after B started: p99 and max end-to-end latency (a partition whose
 * processing stopped shows as latency), and the longest gap in the output as a whole (every task
 * stopped); before the join, p99 as the baseline. Kafka Streams 3.9 rebalances cooperatively
 * (tasks that stay keep running); Tributary's clients rebalance eagerly (the classic protocol:
 * every task is revoked, then reassigned, sticky to where its state is).
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
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '30' },
    'join-at': { type: 'string', default: '10' },
    workload: { type: 'string', default: 'w1' },
    'commit-interval': { type: 'string', default: '100' },
    engines: { type: 'string', default: 'kafka-streams,tributary-kafka,tributary-platformatic' },
    partitions: { type: 'string', default: '8' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const joinAtMs = Number(values['join-at']) * 1000;
const total = rate * seconds;
const partitions = Number(values.partitions);
const workload = values.workload as Workload;
const interval = Number(values['commit-interval']);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
requireKafkaStreamsJar(values.engines!.split(','));

const log = openKafkaLog({ brokers, clientId: 'bench-rebalance', logLevel: 'error' });
const runId = Date.now().toString(36);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  baseP99: number;
  p99: number;
  max: number;
  gap: number;
  joinMs: number;
  outputs: number;
  error?: string;
}

async function runEngine(engine: string): Promise<Figures> {
  const name = `bench-rebalance-${runId}-${engine}`;
  const input = `${name}-in`;
  const output = `${name}-out`;
  await log.admin.createTopics([{ name: input, partitions }, { name: output, partitions }]);
  const dirs = [mkdtempSync(join(tmpdir(), 'tributary-rebalance-')), mkdtempSync(join(tmpdir(), 'tributary-rebalance-'))];
  // both finish on the group's committed offsets (--resume): neither takes every record itself
  const instance = (stateDir: string) =>
    startEngine({ engine, brokers, workload, input, output, appId: name, stateDir, guarantee: 'exactly-once', commitIntervalMs: interval, expectRecords: total, resume: true });
  const a = instance(dirs[0]!);
  let b: ReturnType<typeof instance> | undefined;
  try {
    await a.running();
    const consumer = log.consumer({ maxPollRecords: 10_000, isolationLevel: 'read_committed' });
    consumer.assign(Array.from({ length: partitions }, (_, p) => ({ topic: output, partition: p })));
    for (let p = 0; p < partitions; p++) consumer.seek({ topic: output, partition: p }, 0);
    const seen: { readAt: number; sentAt: number }[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const got: ConsumedRecord[] = await consumer.poll(20);
        const now = Date.now();
        for (const r of got) seen.push({ readAt: now, sentAt: r.timestamp });
      }
    })();
    const producer = log.producer();
    const perTick = Math.max(1, Math.round(rate / 100));
    const started = Date.now();
    let joinedAt = Infinity;
    let joinMs = NaN;
    let sent = 0;
    for (const batch of readings(total, perTick)) {
      const due = started + (sent / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (b === undefined && Date.now() - started >= joinAtMs) {
        joinedAt = Date.now();
        b = instance(dirs[1]!);
        void b.running().then(() => (joinMs = Date.now() - joinedAt), () => undefined);
      }
      const ts = Date.now();
      await producer.send(batch.map((r) => ({ topic: input, key: r.key, value: r.value, timestamp: ts, headers: {} })));
      sent += batch.length;
    }
    await producer.close();
    const lag = Date.now() - started - seconds * 1000;
    const codes = await Promise.race([Promise.all([a.exited, b!.exited]), sleep(180_000).then(() => 'timeout' as const)]);
    await sleep(1000);
    reading = false;
    await reader;
    await consumer.close();
    const warm = started + seconds * 100;
    const before = seen.filter((s) => s.sentAt >= warm && s.sentAt < joinedAt).map((s) => s.readAt - s.sentAt).sort((x, y) => x - y);
    const after = seen.filter((s) => s.sentAt >= joinedAt).map((s) => s.readAt - s.sentAt).sort((x, y) => x - y);
    // the longest time, from the join to the end of the input, in which no output at all was read
    const reads = [joinedAt, ...seen.map((s) => s.readAt).filter((t) => t > joinedAt), started + seconds * 1000].sort((x, y) => x - y);
    let gap = 0;
    for (let i = 1; i < reads.length && reads[i - 1]! < started + seconds * 1000; i++) gap = Math.max(gap, reads[i]! - reads[i - 1]!);
    const error =
      codes === 'timeout' ? 'the instances did not finish'
      : codes.some((c) => c !== 0) ? `exit ${codes.join('/')}: ${(a.out.stderr + b!.out.stderr).slice(-300)}`
      : lag > 1000 ? `the producer fell ${lag} ms behind the rate`
      : seen.length < total ? `only ${seen.length} of ${total} outputs`
      : undefined;
    return { baseP99: percentile(before, 99), p99: percentile(after, 99), max: after.at(-1) ?? NaN, gap, joinMs, outputs: seen.length, error };
  } catch (e) {
    return { baseP99: NaN, p99: NaN, max: NaN, gap: NaN, joinMs: NaN, outputs: 0, error: e instanceof Error ? e.message : String(e) };
  } finally {
    for (const i of [a, b]) if (i && i.child.exitCode === null) i.child.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await log.admin.deleteTopics([input, output]).catch(() => undefined);
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB; load average ${loadavg()[0]!.toFixed(1)} at start`;
console.log(`an instance joins at ${joinAtMs / 1000} s: ${workload}, ${rate} records/s for ${seconds} s, exactly-once, commit interval ${interval} ms, ${partitions} partitions; ${machine}`);
console.log('| engine | p99 ms before the join | p99 ms after | max ms after | longest output gap ms | new instance running after ms | outputs | note |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const engine of values.engines!.split(',')) {
  const r = await runEngine(engine);
  console.log(`| ${engine} | ${fmt(r.baseP99)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${fmt(r.gap)} | ${fmt(r.joinMs)} | ${fmt(r.outputs)} | ${r.error ?? ''} |`);
}
console.log(`load average ${loadavg()[0]!.toFixed(1)} at the end`);
await log.close();
