/**
 * Restore after kill -9 (issue 7): Tributary on Kafka beside Kafka Streams, W2 (count by key with a
 * persistent store and its changelog) under exactly-once, on the same broker in one run.
 *
 *   KAFKA_BROKERS=127.0.0.1:19092 node --conditions=development --import tsx bench/restore.ts
 *     [--records 1000000] [--partitions 8] [--kill-at 0.6] [--commit-interval 100]
 *     [--engines kafka-streams,tributary-kafka,tributary-platformatic] [--scenarios kept,lost] [--record-cache N]
 *
 * The input (bench/workloads.ts readings, 10k keys) is produced once; per engine and scenario:
 * 1. the engine starts as a child (bench/kafka-streams KafkaStreamsBench or bench/suite-tributary.ts)
 *    with a fresh application id and state directory;
 * 2. once the group's committed offsets pass `--kill-at` of the input, the child is killed with
 *    SIGKILL (mid-run: transactions open, stores written past their last checkpoint);
 * 3. this process waits until the broker has dropped the dead member (group Empty: its session
 *    timeout), so the figures below do not depend on the engines' session timeouts;
 * 4. scenario `kept`: the same state directory (a pod restarted on its persistent volume);
 *    scenario `lost`: the state directory deleted (a pod rescheduled without its volume);
 * 5. the engine starts again (`--resume`) and runs until the rest of the input is committed.
 * Reported: the changelog's size at the kill, records replayed from it, the restore's span (Kafka
 * Streams: its StateRestoreListener, first start to last end; Tributary: its restorer's per-task
 * log lines), restore rate, time from start() to running (group join + restore), time to finish the
 * rest, and the output counted exactly once (read_committed) at the end: every key's last count
 * must equal its number of readings. --record-cache sets Tributary's recordCacheSize (default 0, off;
 * Kafka Streams always runs with its default cache, which also thins its changelog).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { openKafkaLog } from '../src/log/kafka/index.js';
import type { ConsumedRecord } from '../src/log/types.js';
import { requireKafkaStreamsJar, startEngine } from './engine-child.js';
import { KEYS, produceInput, readings } from './workloads.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '8' },
    'kill-at': { type: 'string', default: '0.6' },
    'commit-interval': { type: 'string', default: '100' },
    engines: { type: 'string', default: 'kafka-streams,tributary-kafka' },
    scenarios: { type: 'string', default: 'kept,lost' },
    'record-cache': { type: 'string', default: '0' },
  },
});
const total = Number(values.records);
const partitions = Number(values.partitions);
const killAt = Number(values['kill-at']);
const interval = Number(values['commit-interval']);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
requireKafkaStreamsJar(values.engines!.split(','));

const log = openKafkaLog({ brokers, clientId: 'bench-restore', logLevel: 'error' });
const kafkaAdmin = new Kafka({ brokers: [brokers], clientId: 'bench-restore-groups', logLevel: logLevel.NOTHING }).admin();
await kafkaAdmin.connect();
const runId = Date.now().toString(36);
const input = `bench-restore-${runId}-in`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each key's number of readings: what every engine's last count per key must be. */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const batch of readings(total)) for (const r of batch) counts.set(r.key.toString(), (counts.get(r.key.toString()) ?? 0) + 1);
  return counts;
}

function start(engine: string, appId: string, output: string, stateDir: string, resume: boolean) {
  return startEngine({ engine, brokers, workload: 'w2', input, output, appId, stateDir, guarantee: 'exactly-once', commitIntervalMs: interval, recordCache: values['record-cache']!, resume });
}

async function committed(appId: string): Promise<number> {
  return (await log.admin.committedOffsets(appId, [input])).reduce((n, c) => n + Math.max(0, c.offset), 0);
}

async function changelogRecords(appId: string): Promise<number> {
  const topics = (await log.admin.listTopics()).filter((t) => t.startsWith(`${appId}-`) && t.endsWith('-changelog'));
  let n = 0;
  for (const t of topics) for (const p of await log.admin.offsets(t)) n += p.high - p.low;
  return n;
}

/** The output read at read_committed: every key's last count, checked against its readings. */
async function checkOutput(output: string, expected: Map<string, number>): Promise<string> {
  const consumer = log.consumer({ maxPollRecords: 10_000, isolationLevel: 'read_committed' });
  const ends = await log.admin.offsets(output);
  consumer.assign(ends.map((p) => ({ topic: output, partition: p.partition })));
  for (const p of ends) consumer.seek({ topic: output, partition: p.partition }, 0);
  const last = new Map<string, number>();
  const until = Date.now() + 120_000;
  // positions pass transaction markers too, which are never returned as records
  const done = () => ends.every((e) => consumer.position({ topic: output, partition: e.partition }) >= e.high);
  while (!done() && Date.now() < until) {
    const got: ConsumedRecord[] = await consumer.poll(200);
    for (const r of got) {
      last.set(r.key!.toString(), Number(r.value!.readBigInt64BE(0)));
    }
  }
  const finished = done();
  await consumer.close();
  if (!finished) return 'output not read to its end in 120 s';
  let wrong = 0;
  for (const [k, n] of expected) if (last.get(k) !== n) wrong++;
  return wrong === 0 ? `all ${expected.size} counts exact` : `${wrong} of ${expected.size} keys' last count wrong`;
}

interface Row {
  engine: string;
  scenario: string;
  committedAtKill: number;
  changelog: number;
  restored: number;
  restoreMs: number;
  msToRunning: number;
  groupWaitMs: number;
  restMs: number;
  check: string;
  error?: string;
}

async function runOne(engine: string, scenario: string, expected: Map<string, number>): Promise<Row> {
  const appId = `bench-restore-${runId}-${engine}-${scenario}`;
  const output = `${appId}-out`;
  const stateDir = mkdtempSync(join(tmpdir(), 'tributary-restore-'));
  const row: Row = { engine, scenario, committedAtKill: 0, changelog: 0, restored: 0, restoreMs: 0, msToRunning: 0, groupWaitMs: 0, restMs: 0, check: '' };
  try {
    // 1-2: run, then kill -9 once past the kill point
    const first = start(engine, appId, output, stateDir, false);
    const until = Date.now() + 600_000;
    for (;;) {
      await sleep(50);
      if (first.child.exitCode !== null) throw new Error(`${engine} exited before the kill: ${first.out.stderr.slice(-800)}`);
      if (Date.now() > until) throw new Error(`${engine} did not reach ${killAt} of the input in 600 s`);
      row.committedAtKill = await committed(appId);
      if (row.committedAtKill >= total * killAt) break;
    }
    first.child.kill('SIGKILL');
    await first.exited;
    row.changelog = await changelogRecords(appId);
    // 3: the dead member leaves the group at its session timeout
    const waitFrom = Date.now();
    for (;;) {
      const { groups } = await kafkaAdmin.describeGroups([appId]);
      if (groups[0]?.state === 'Empty' || groups[0]?.state === 'Dead') break;
      if (Date.now() - waitFrom > 120_000) throw new Error(`group ${appId} still ${groups[0]?.state} 120 s after the kill`);
      await sleep(250);
    }
    row.groupWaitMs = Date.now() - waitFrom;
    // 4-5
    if (scenario === 'lost') rmSync(stateDir, { recursive: true, force: true });
    const second = start(engine, appId, output, stateDir, true);
    const code = await Promise.race([second.exited, sleep(900_000).then(() => 'timeout' as const)]);
    const r = code === 'timeout' ? undefined : second.result();
    if (r === undefined) throw new Error(`${engine} restart: ${code === 'timeout' ? 'did not finish' : `exit ${code}`}: ${second.out.stderr.slice(-800)}`);
    if (r.error) row.error = String(r.error);
    row.restored = Number(r.restored);
    row.restoreMs = Number(r.restoreMs);
    row.msToRunning = Number(r.msToRunning);
    row.restMs = Number(r.ms);
    row.check = await checkOutput(output, expected);
  } catch (e) {
    row.error = e instanceof Error ? e.message : String(e);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  return row;
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB; load average ${loadavg()[0]!.toFixed(1)} at start`;
console.log(`restore after kill -9: W2 count by key, exactly-once, commit interval ${interval} ms, ${total} records, ${partitions} partitions, ${KEYS} keys, kill at ${killAt} of the input; Tributary recordCacheSize ${values['record-cache']}; ${machine}`);
await produceInput(log, 'w2', { input }, total, partitions);
const expected = expectedCounts();
console.log('| engine | local state | committed at kill | changelog at kill | restored | restore ms | restore records/s | start() to running ms | rest of the input ms | output | note |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
for (const scenario of values.scenarios!.split(',')) {
  for (const engine of values.engines!.split(',')) {
    const r = await runOne(engine, scenario, expected);
    const rate = r.restoreMs > 0 ? r.restored / (r.restoreMs / 1000) : NaN;
    console.log(
      `| ${engine} | ${scenario} | ${fmt(r.committedAtKill)} | ${fmt(r.changelog)} | ${fmt(r.restored)} | ${fmt(r.restoreMs)} | ${fmt(rate)} | ${fmt(r.msToRunning)} | ${fmt(r.restMs)} | ${r.check} | ${r.error ?? `group empty ${fmt(r.groupWaitMs)} ms after the kill`} |`,
    );
  }
}
console.log(`load average ${loadavg()[0]!.toFixed(1)} at the end`);
await kafkaAdmin.disconnect();
await log.admin.deleteTopics([input]).catch(() => undefined);
// one run of five hung here after printing its table (in log.close(), not investigated): exit anyway
await Promise.race([log.close(), sleep(15_000).then(() => console.error('log.close() did not finish in 15 s'))]);
process.exit(0);
