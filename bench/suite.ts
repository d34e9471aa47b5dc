/**
 * Tributary side by side with Apache Kafka Streams and the raw kafkajs ceiling, on the same broker,
 * in one run (issue 7).
 *
 *   node --conditions=development --import tsx bench/suite.ts [--records 300000] [--partitions 8]
 *     [--commit-interval 100] [--eos-intervals 100,1000,30000] [--workloads w1,w2,w3,w4]
 *     [--engines raw,kafka-streams,tributary-kafka,tributary-platformatic,tributary-embedded] [--cpu-prof] [--no-write]
 *     [--record-cache N]   (Tributary's recordCacheSize; Kafka Streams runs with its default cache)
 *     [--max-uncommitted N]   (Tributary's maxUncommittedRecords per task: an early commit above it)
 *     [--no-pipeline]         (Tributary waits for each commit before processing on: pipelineCommits false)
 *
 * Broker: KAFKA_BROKERS, else the local one of `scripts/kafka.sh up` (started if needed, left
 * running); every topic gets the run id in its name and is deleted at the end. Steps:
 * 1. builds bench/kafka-streams (Maven: `mvn -q -o package` when it was built before, else
 *    `mvn -q package`, which fetches kafka-streams 3.9.2 from Maven Central into ~/.m2 once);
 * 2. the raw kafkajs consume -> produce ceiling: bench/kafka-raw.ts as a child, same N and P;
 * 3. per workload of bench/workloads.ts (W1 filter + mapValues, W2 count by key, W3 tumbling-window
 *    count, W4 stream-table join): produces the input once to Kafka and once to an embedded log,
 *    then runs each variant (exactly-once at each of --eos-intervals, default just --commit-interval;
 *    W1 and W2 also at-least-once at --commit-interval) on each engine, each run a child process
 *    with one processing thread: Kafka Streams (KafkaStreamsBench.java, -Xmx1g, one stream thread),
 *    Tributary on Kafka through each of its two clients (kafkajs, the default, and
 *    @platformatic/kafka) and Tributary on the embedded log (bench/suite-tributary.ts). A run ends when
 *    its group's committed offsets cover all of its input; records/s is over the time from the first
 *    record taken to then (also shown from start(), start-up included); peak RSS is the child's VmHWM;
 * 4. prints a table and, unless --no-write, replaces its section of bench/RESULTS.md (between the
 *    `suite:begin` / `suite:end` markers) and writes the chart bench/results-ratios.svg.
 * --cpu-prof adds one more Tributary-on-Kafka W1 exactly-once run under `node --cpu-prof` (not
 * counted in the table) and prints its top frames by self time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openEmbeddedLog } from '../src/log/embedded/index.js';
import { openKafkaLog } from '../src/log/kafka/index.js';
import { ratioChart } from './chart.js';
import { produceInput, WORKLOADS, type Guarantee, type Produced, type Workload } from './workloads.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    partitions: { type: 'string', default: '8' },
    'commit-interval': { type: 'string', default: '100' },
    'record-cache': { type: 'string', default: '0' },
    'max-uncommitted': { type: 'string' },
    'no-pipeline': { type: 'boolean', default: false },
    'eos-intervals': { type: 'string' },
    workloads: { type: 'string', default: 'w1,w2,w3,w4' },
    engines: { type: 'string', default: 'raw,kafka-streams,tributary-kafka,tributary-platformatic,tributary-embedded' },
    'java-opts': { type: 'string', default: '-Xmx1g' },
    'cpu-prof': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const total = Number(values.records);
const partitions = Number(values.partitions);
const commitInterval = Number(values['commit-interval']);
const eosIntervals = (values['eos-intervals'] ?? String(commitInterval)).split(',').map(Number);
const workloads = values.workloads!.split(',') as Workload[];
const engines = values.engines!.split(',');
const root = new URL('..', import.meta.url).pathname;
const ksDir = join(root, 'bench/kafka-streams');
const node = process.execPath;
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const say = (s: string) => process.stderr.write(`suite: ${s}\n`);

type Engine = 'kafka-streams' | 'tributary-kafka' | 'tributary-platformatic' | 'tributary-embedded';
const ENGINE_NAMES: Record<Engine, string> = {
  'kafka-streams': 'Kafka Streams',
  'tributary-kafka': 'Tributary on Kafka',
  'tributary-platformatic': 'Tributary on Kafka (@platformatic/kafka)',
  'tributary-embedded': 'Tributary embedded',
};
const runEngines = (['kafka-streams', 'tributary-kafka', 'tributary-platformatic', 'tributary-embedded'] as Engine[]).filter((e) => engines.includes(e));

interface RunResult {
  engine: Engine;
  workload: Workload;
  guarantee: Guarantee;
  commitIntervalMs: number;
  records: number;
  outputs?: number;
  /** from start() to the input's last commit */
  ms: number;
  /** from the first input record taken to the input's last commit: the figure compared */
  msFromFirst: number;
  peakRssKiB: number;
  error: string | null;
  /** records / msFromFirst */
  recordsPerSec: number;
  /** records / ms: start-up (group join, producer and store initialisation) included */
  recordsPerSecWithStartup: number;
  mbPerSec: number;
}

// ---------------------------------------------------------------------------------------------
// broker, versions, machine

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function broker(): { address: string; version: string } {
  const script = join(root, 'scripts/kafka.sh');
  if (process.env.KAFKA_BROKERS) return { address: process.env.KAFKA_BROKERS, version: process.env.KAFKA_VERSION ?? '?' };
  const up = run('bash', [script, 'up']);
  if (up.status !== 0) throw new Error(`scripts/kafka.sh up failed: ${up.stderr}`);
  const status = run('bash', [script, 'status']);
  return { address: up.stdout.trim().split('\n').at(-1)!, version: /Kafka (\S+)/.exec(status.stderr + status.stdout)?.[1] ?? '?' };
}

const { address, version: kafkaVersion } = broker();
const javaVersion = /version "([^"]+)"/.exec(run('java', ['-version']).stderr)?.[1] ?? '?';
const ksVersion = /<kafka\.version>([^<]+)</.exec(readFileSync(join(ksDir, 'pom.xml'), 'utf8'))?.[1] ?? '?';
const kafkajsVersion = JSON.parse(readFileSync(join(root, 'node_modules/kafkajs/package.json'), 'utf8')).version as string;
const platformaticVersion = JSON.parse(readFileSync(join(root, 'node_modules/@platformatic/kafka/package.json'), 'utf8')).version as string;
const cpuModel = cpus()[0]?.model ?? '?';
const machine = `${cpus().length} × ${cpuModel}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux; Node.js ${process.version}, Java ${javaVersion}, Kafka broker ${kafkaVersion} (KRaft, one node, same machine), Kafka Streams ${ksVersion}, kafkajs ${kafkajsVersion}, @platformatic/kafka ${platformaticVersion}`;
const loadBefore = loadavg()[0]!;
const started = new Date();
say(machine);

// ---------------------------------------------------------------------------------------------
// 1. the Kafka Streams app

const jar = join(ksDir, 'target/kafka-streams-bench.jar');
if (runEngines.includes('kafka-streams')) {
  let built = existsSync(jar) && run('mvn', ['-q', '-o', 'package'], { cwd: ksDir }).status === 0;
  if (!built) {
    say('building bench/kafka-streams (mvn -q package; fetches from Maven Central the first time)');
    const mvn = run('mvn', ['-q', 'package'], { cwd: ksDir });
    if (mvn.status !== 0) throw new Error(`mvn package failed:\n${mvn.stdout}\n${mvn.stderr}`);
    built = true;
  }
}

// ---------------------------------------------------------------------------------------------
// 2. the raw kafkajs ceiling

const ceiling: Record<Guarantee, number> = { 'exactly-once': NaN, 'at-least-once': NaN };
let rawOutput = '';
if (engines.includes('raw')) {
  say('raw kafkajs ceiling (bench/kafka-raw.ts)');
  const raw = run(node, ['--import', 'tsx', join(root, 'bench/kafka-raw.ts'), '--records', String(total), '--partitions', String(partitions), '--mode', 'both'], {
    env: { ...process.env, KAFKA_BROKERS: address },
  });
  if (raw.status !== 0) throw new Error(`bench/kafka-raw.ts failed: ${raw.stdout}\n${raw.stderr}`);
  rawOutput = raw.stdout.trim();
  const rate = (mode: string) => Number(new RegExp(`\\(${mode}\\): .* = ([\\d,]+) records/s`).exec(raw.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
  ceiling['at-least-once'] = rate('plain');
  ceiling['exactly-once'] = rate('eos');
  say(rawOutput.replace(/\n/g, '\n  '));
}

// ---------------------------------------------------------------------------------------------
// 3. the workloads

const runId = Math.random().toString(36).slice(2, 8);
const prefix = `bench-suite-${runId}`;
const work = mkdtempSync(join(tmpdir(), 'tributary-suite-'));
const dbPath = join(work, 'log.db');
const results: RunResult[] = [];
const produced: Partial<Record<Workload, { kafka: Produced; embedded: Produced }>> = {};
const gShort = (g: Guarantee) => (g === 'exactly-once' ? 'eos' : 'alos');

function parseResult(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return line ? (JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>) : undefined;
}

function runOnce(engine: Engine, workload: Workload, guarantee: Guarantee, interval: number, extraNodeArgs: string[] = [], tag = ''): RunResult {
  const name = `${prefix}-${workload}-${gShort(guarantee)}-${interval}-${engine}${tag}`;
  const input = `${prefix}-${workload}-in`;
  const table = `${prefix}-w4-table`;
  const stateDir = mkdtempSync(join(work, 'state-'));
  let child;
  if (engine === 'kafka-streams') {
    child = run('java', [
      ...values['java-opts']!.split(' ').filter(Boolean),
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp', `${jar}:${join(ksDir, 'target/lib/*')}`,
      'tributary.bench.KafkaStreamsBench',
      '--bootstrap', address, '--workload', workload, '--input', input, '--table', table, '--output', `${name}-out`,
      '--app-id', name, '--state-dir', stateDir, '--guarantee', guarantee === 'exactly-once' ? 'exactly_once_v2' : 'at_least_once',
      '--commit-interval', String(interval),
    ]);
  } else {
    child = run(node, [
      ...extraNodeArgs, '--conditions=development', '--import', 'tsx', join(root, 'bench/suite-tributary.ts'),
      '--log', engine.slice('tributary-'.length), '--brokers', address, '--db', dbPath,
      '--workload', workload, '--input', input, '--table', table, '--output', `${name}-out`,
      '--app-id', name, '--state-dir', stateDir, '--guarantee', guarantee, '--commit-interval', String(interval),
      '--record-cache', values['record-cache']!,
      ...(values['max-uncommitted'] !== undefined ? ['--max-uncommitted', values['max-uncommitted']] : []),
      ...(values['no-pipeline'] ? ['--no-pipeline'] : []),
    ]);
  }
  rmSync(stateDir, { recursive: true, force: true });
  const r = parseResult(child.stdout);
  const bytes = produced[workload]![engine === 'tributary-embedded' ? 'embedded' : 'kafka'].bytes;
  const ms = typeof r?.ms === 'number' ? r.ms : -1;
  const msFromFirst = typeof r?.msFromFirst === 'number' ? r.msFromFirst : -1;
  const error = r === undefined ? `no RESULT line (exit ${child.status}): ${child.stderr.split('\n').slice(-15).join('\n')}` : ((r.error as string | null) ?? null);
  const records = typeof r?.records === 'number' ? r.records : total;
  const res: RunResult = {
    engine,
    workload,
    guarantee,
    commitIntervalMs: interval,
    records,
    outputs: typeof r?.outputs === 'number' ? r.outputs : undefined,
    ms,
    msFromFirst,
    peakRssKiB: typeof r?.peakRssKiB === 'number' ? r.peakRssKiB : -1,
    error,
    recordsPerSec: error === null && msFromFirst > 0 ? records / (msFromFirst / 1000) : NaN,
    recordsPerSecWithStartup: error === null && ms > 0 ? records / (ms / 1000) : NaN,
    mbPerSec: error === null && msFromFirst > 0 ? bytes / 2 ** 20 / (msFromFirst / 1000) : NaN,
  };
  if (engine === 'kafka-streams' && typeof r?.inputBytes === 'number' && r.inputBytes !== bytes) say(`  note: Kafka Streams counted ${r.inputBytes} input bytes, the generator ${bytes}`);
  say(`  ${ENGINE_NAMES[engine]}: ${error ?? `${fmt(res.recordsPerSec)} records/s (${msFromFirst} ms from the first record; ${fmt(res.recordsPerSecWithStartup)}/s in ${ms} ms from start()), ${res.mbPerSec.toFixed(2)} MB/s, outputs ${res.outputs ?? '?'}, peak RSS ${Math.round(res.peakRssKiB / 1024)} MiB`}`);
  return res;
}

const kafkaLog = () => openKafkaLog({ brokers: address, clientId: 'bench-suite', logLevel: 'error' });
let profileSummary: string[] = [];
let profiled: Workload | undefined;
try {
  for (const workload of workloads) {
    const input = `${prefix}-${workload}-in`;
    const table = `${prefix}-w4-table`;
    say(`${WORKLOADS[workload].title}: producing ${fmt(total)} records over ${partitions} partitions`);
    const klog = kafkaLog();
    const kafka = await produceInput(klog, workload, { input, table }, total, partitions).finally(() => klog.close());
    let embedded = kafka;
    if (runEngines.includes('tributary-embedded')) {
      const log = openEmbeddedLog({ path: dbPath });
      try {
        embedded = await produceInput(log, workload, { input, table }, total, partitions);
      } finally {
        await log.close();
      }
    }
    produced[workload] = { kafka, embedded };
    say(`  produced ${fmt(kafka.bytes / total)} bytes/record; to Kafka at ${fmt(total / (kafka.ms / 1000))} records/s`);
    const variants: [Guarantee, number][] = eosIntervals.map((i) => ['exactly-once', i]);
    if (workload === 'w1' || workload === 'w2') variants.push(['at-least-once', commitInterval]);
    for (const [guarantee, interval] of variants) {
      say(`${WORKLOADS[workload].title}, ${guarantee}, commit ${interval} ms`);
      for (const engine of runEngines) results.push(runOnce(engine, workload, guarantee, interval));
    }
  }

  // the first workload run (W1 in the full suite)
  profiled = workloads.find((w) => produced[w] !== undefined);
  if (values['cpu-prof'] && profiled !== undefined) {
    const dir = join(work, 'profiles');
    say(`profiling Tributary on Kafka, ${profiled.toUpperCase()} exactly-once (not counted)`);
    runOnce('tributary-kafka', profiled, 'exactly-once', eosIntervals[0]!, ['--cpu-prof', '--cpu-prof-dir', dir], '-profiled');
    // one profile per thread (tsx's loader runs in a worker): the main thread's is the largest
    const file = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
    if (file) profileSummary = summariseProfile(join(dir, file));
    say(profileSummary.join('\n'));
  }
} finally {
  const klog = kafkaLog();
  const mine = (await klog.admin.listTopics()).filter((t) => t.includes(prefix));
  await klog.admin.deleteTopics(mine).catch(() => undefined);
  await klog.close();
  rmSync(work, { recursive: true, force: true });
}

/** Top frames by self time of a .cpuprofile (V8's format: nodes with callFrame, samples, timeDeltas). */
function summariseProfile(path: string): string[] {
  const p = JSON.parse(readFileSync(path, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let all = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    all += dt;
    const f = byId.get(id)!.callFrame;
    const url = f.url.replace(/^file:\/\//, '').replace(root, '');
    const key = `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([k, us]) => `| ${((100 * us) / all).toFixed(1)}% | ${(us / 1000).toFixed(0)} ms | \`${k}\` |`);
}

// ---------------------------------------------------------------------------------------------
// 4. report

const loadAfter = loadavg()[0]!;
const find = (engine: Engine, w: Workload, g: Guarantee, i: number) => results.find((r) => r.engine === engine && r.workload === w && r.guarantee === g && r.commitIntervalMs === i);
const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const fx = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const cell = (r: RunResult | undefined) => (r === undefined ? '-' : r.error !== null ? 'failed' : fmt(r.recordsPerSec));
const triple = (xs: (string | undefined)[]) => xs.map((x) => x ?? '-').join(' / ');

const variants = [...new Map(results.map((r) => [`${r.workload}|${r.guarantee}|${r.commitIntervalMs}`, r])).values()];
const lines: string[] = [];
lines.push('| workload | guarantee, commit | Kafka Streams rec/s | Tributary on Kafka rec/s | Tributary embedded rec/s | Tributary on Kafka / Kafka Streams | embedded / Kafka Streams | Tributary on Kafka / raw kafkajs | MB/s (KS / TK / TE) | rec/s with start-up (KS / TK / TE) | peak RSS MiB (KS / TK / TE) | outputs (KS / TK / TE) |');
lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |');
const chartRows: { label: string; values: (number | undefined)[] }[] = [];
for (const v of variants) {
  const ks = find('kafka-streams', v.workload, v.guarantee, v.commitIntervalMs);
  const tk = find('tributary-kafka', v.workload, v.guarantee, v.commitIntervalMs);
  const te = find('tributary-embedded', v.workload, v.guarantee, v.commitIntervalMs);
  const tkKs = ratio(tk?.recordsPerSec, ks?.recordsPerSec);
  const teKs = ratio(te?.recordsPerSec, ks?.recordsPerSec);
  const tkRaw = ratio(tk?.recordsPerSec, ceiling[v.guarantee]);
  const rs = [ks, tk, te];
  lines.push(
    `| ${WORKLOADS[v.workload].title} | ${v.guarantee}, ${v.commitIntervalMs} ms | ${cell(ks)} | ${cell(tk)} | ${cell(te)} | **${fx(tkKs)}** | ${fx(teKs)} | ${fx(tkRaw)} | ${triple(rs.map((r) => (r && r.error === null ? r.mbPerSec.toFixed(1) : undefined)))} | ${triple(rs.map((r) => (r && r.error === null ? fmt(r.recordsPerSecWithStartup) : undefined)))} | ${triple(rs.map((r) => (r ? String(Math.round(r.peakRssKiB / 1024)) : undefined)))} | ${triple(rs.map((r) => (r?.outputs !== undefined ? fmt(r.outputs) : undefined)))} |`,
  );
  chartRows.push({ label: `${v.workload.toUpperCase()} ${v.guarantee === 'exactly-once' ? 'EOS' : 'ALOS'} ${v.commitIntervalMs} ms`, values: [tkKs, teKs, tkRaw] });
}
// the two Kafka backends side by side (issue 7: choose the default client by evidence)
const clientLines: string[] = [];
if (runEngines.includes('tributary-platformatic')) {
  clientLines.push('| workload | guarantee, commit | kafkajs rec/s | @platformatic/kafka rec/s | platformatic / kafkajs | platformatic / Kafka Streams | rec/s with start-up (kafkajs / platformatic) | peak RSS MiB (kafkajs / platformatic) |');
  clientLines.push('| --- | --- | ---: | ---: | ---: | ---: | --- | --- |');
  for (const v of variants) {
    const tk = find('tributary-kafka', v.workload, v.guarantee, v.commitIntervalMs);
    const tp = find('tributary-platformatic', v.workload, v.guarantee, v.commitIntervalMs);
    const ks = find('kafka-streams', v.workload, v.guarantee, v.commitIntervalMs);
    const pair = [tk, tp];
    clientLines.push(
      `| ${WORKLOADS[v.workload].title} | ${v.guarantee}, ${v.commitIntervalMs} ms | ${cell(tk)} | ${cell(tp)} | **${fx(ratio(tp?.recordsPerSec, tk?.recordsPerSec))}** | ${fx(ratio(tp?.recordsPerSec, ks?.recordsPerSec))} | ${triple(pair.map((r) => (r && r.error === null ? fmt(r.recordsPerSecWithStartup) : undefined)))} | ${triple(pair.map((r) => (r ? String(Math.round(r.peakRssKiB / 1024)) : undefined)))} |`,
    );
  }
}
const failures = results.filter((r) => r.error !== null);

const targets: string[] = [];
const judge = (label: string, value: number, aim: number) => targets.push(`- ${label}: ${fx(value)} (aim ≥ ${aim.toFixed(2)}) — **${!Number.isFinite(value) ? 'not measured' : value >= aim ? 'met' : 'not met'}**`);
const w1eos = eosIntervals[0]!;
if (workloads.includes('w1')) {
  judge(`W1 exactly-once ${w1eos} ms, Tributary on Kafka / Kafka Streams`, ratio(find('tributary-kafka', 'w1', 'exactly-once', w1eos)?.recordsPerSec, find('kafka-streams', 'w1', 'exactly-once', w1eos)?.recordsPerSec), 1);
  judge(`W1 exactly-once ${w1eos} ms, Tributary on Kafka / raw kafkajs exactly-once`, ratio(find('tributary-kafka', 'w1', 'exactly-once', w1eos)?.recordsPerSec, ceiling['exactly-once']), 0.8);
  judge(`W1 at-least-once, Tributary on Kafka / raw kafkajs at-least-once`, ratio(find('tributary-kafka', 'w1', 'at-least-once', commitInterval)?.recordsPerSec, ceiling['at-least-once']), 0.8);
}
if (workloads.includes('w2')) judge(`W2 exactly-once ${w1eos} ms, Tributary on Kafka / Kafka Streams`, ratio(find('tributary-kafka', 'w2', 'exactly-once', w1eos)?.recordsPerSec, find('kafka-streams', 'w2', 'exactly-once', w1eos)?.recordsPerSec), 1);

const avgBytes = Math.round((Object.values(produced)[0]?.kafka.bytes ?? 0) / total);
const command = `node --conditions=development --import tsx bench/suite.ts --records ${total} --partitions ${partitions} --commit-interval ${commitInterval}${values['eos-intervals'] ? ` --eos-intervals ${values['eos-intervals']}` : ''}${values.workloads !== 'w1,w2,w3,w4' ? ` --workloads ${values.workloads}` : ''}${values.engines !== 'raw,kafka-streams,tributary-kafka,tributary-platformatic,tributary-embedded' ? ` --engines ${values.engines}` : ''}${values['cpu-prof'] ? ' --cpu-prof' : ''}${values['record-cache'] !== '0' ? ` --record-cache ${values['record-cache']}` : ''}${values['max-uncommitted'] !== undefined ? ` --max-uncommitted ${values['max-uncommitted']}` : ''}${values['no-pipeline'] ? ' --no-pipeline' : ''}`;
const section: string[] = [
  '<!-- suite:begin (written by bench/suite.ts; the next run replaces everything up to suite:end) -->',
  '## Side by side with Kafka Streams and the raw kafkajs ceiling (issue 7)',
  '',
  `\`${command}\` — measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after (2 shared cores).`,
  '',
  `Machine: ${machine}. Kafka Streams: ${values['java-opts']}, one stream thread, default caching; Tributary: one Node.js process (one thread), recordCacheSize ${values['record-cache']}. Every run is a fresh process and a fresh consumer group on an input topic produced once per workload (${fmt(total)} records of ~${avgBytes} bytes), ${partitions} partitions, 10k keys; each run ends when its group's committed offsets cover the whole input (polled every 20 ms). The compared figure, records/s, is input records over the time from the first record taken to that commit; "with start-up" is over the time from \`start()\` (group join, producers, stores; 0.3-3.3 s in these runs, any engine). MB/s: the input's key + value bytes (MiB) over the compared time. Outputs: records handed to the sink (Kafka Streams: a \`peek\` before \`to\`; Tributary: \`stats().recordsOut\`). Engines ran in the order Kafka Streams, Tributary on Kafka (kafkajs), Tributary on Kafka (@platformatic/kafka), Tributary embedded for each variant.`,
  '',
  `Raw kafkajs ceiling (bench/kafka-raw.ts, same N and partitions, its own 100-byte records): at least once **${fmt(ceiling['at-least-once'])}** records/s, exactly once **${fmt(ceiling['exactly-once'])}** records/s.`,
  '',
  ...lines,
  '',
  ...(clientLines.length ? ['The two Kafka backends, same runs (Tributary on kafkajs above; on @platformatic/kafka here, `openPlatformaticLog`):', '', ...clientLines, ''] : []),
  `Exactly-once commit intervals that ran: ${eosIntervals.join(', ')} ms; at-least-once (W1, W2): ${commitInterval} ms.${failures.length ? ` Failed runs: ${failures.map((f) => `${f.engine} ${f.workload} ${f.guarantee} ${f.commitIntervalMs} ms (${f.error?.split('\n')[0]})`).join('; ')}.` : ''}`,
  '',
  'Targets:',
  ...targets,
  '',
  'Chart of the ratios: [results-ratios.svg](results-ratios.svg).',
  ...(profileSummary.length ? ['', `Top frames by self time, Tributary on Kafka, ${profiled?.toUpperCase()} exactly-once (\`--cpu-prof\`, a separate run):`, '', '| self | ms | frame |', '| ---: | ---: | --- |', ...profileSummary] : []),
  '<!-- suite:end -->',
];

console.log(section.join('\n'));
if (!values['no-write']) {
  const resultsPath = join(root, 'bench/RESULTS.md');
  const current = readFileSync(resultsPath, 'utf8');
  const begin = current.indexOf('<!-- suite:begin');
  const end = current.indexOf('<!-- suite:end -->');
  const next = begin >= 0 && end > begin ? current.slice(0, begin) + section.join('\n') + current.slice(end + '<!-- suite:end -->'.length) : `${current.trimEnd()}\n\n${section.join('\n')}\n`;
  writeFileSync(resultsPath, next);
  writeFileSync(
    join(root, 'bench/results-ratios.svg'),
    ratioChart({
      title: 'Tributary throughput ratios (higher is better; 1.0 = parity)',
      subtitle: `${fmt(total)} records, ${partitions} partitions, ${started.toISOString().slice(0, 10)}; ${cpus().length} × ${cpuModel}`,
      series: ['Tributary on Kafka / Kafka Streams', 'Tributary embedded / Kafka Streams', 'Tributary on Kafka / raw kafkajs'],
      rows: chartRows,
    }),
  );
  say('wrote bench/RESULTS.md (suite section) and bench/results-ratios.svg');
}
process.exit(failures.length ? 1 : 0);
