/**
 * One engine of a Kafka bench as a child process: Kafka Streams (bench/kafka-streams
 * KafkaStreamsBench) or Tributary on one of its Kafka clients (bench/suite-tributary.ts), with the
 * same arguments either way. Used by bench/latency.ts, bench/restore.ts and bench/rebalance.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Workload } from './workloads.js';

const root = new URL('..', import.meta.url).pathname;
const jar = join(root, 'bench/kafka-streams/target/kafka-streams-bench.jar');

export interface EngineRun {
  /** kafka-streams, tributary-kafka (kafkajs) or tributary-platformatic */
  engine: string;
  brokers: string;
  workload: Workload;
  input: string;
  output: string;
  appId: string;
  stateDir: string;
  guarantee: 'exactly-once' | 'at-least-once';
  commitIntervalMs: number;
  /** Tributary's recordCacheSize (Kafka Streams keeps its default cache) */
  recordCache?: string;
  /** > 0: the input is produced while the engine runs; it is done once this many are committed */
  expectRecords?: number;
  /** the group committed part of the input before (or shares it): finish on its committed offsets alone */
  resume?: boolean;
}

/** Throws unless the Kafka Streams app is built, when one of `engines` needs it. */
export function requireKafkaStreamsJar(engines: readonly string[]): void {
  if (engines.includes('kafka-streams') && !existsSync(jar)) throw new Error(`${jar} is missing: run bench/suite.ts once (it builds it with Maven), or mvn -q package in bench/kafka-streams`);
}

function command(r: EngineRun): [string, string[]] {
  const extra = [...(r.expectRecords ? ['--expect-records', String(r.expectRecords)] : []), ...(r.resume ? ['--resume'] : [])];
  const common = ['--workload', r.workload, '--input', r.input, '--output', r.output, '--app-id', r.appId, '--state-dir', r.stateDir, '--commit-interval', String(r.commitIntervalMs)];
  if (r.engine === 'kafka-streams') {
    return ['java', ['-Xmx1g', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', `${jar}:${join(root, 'bench/kafka-streams/target/lib/*')}`, 'tributary.bench.KafkaStreamsBench',
      '--bootstrap', r.brokers, ...common, '--guarantee', r.guarantee === 'exactly-once' ? 'exactly_once_v2' : 'at_least_once', ...extra]];
  }
  return [process.execPath, ['--conditions=development', '--import', 'tsx', join(root, 'bench/suite-tributary.ts'), '--log', r.engine.slice('tributary-'.length), '--brokers', r.brokers,
    ...common, '--guarantee', r.guarantee, '--record-cache', r.recordCache ?? '0', ...extra]];
}

/** Starts the engine; `running()` resolves once it printed RUNNING (rejects if it exits or takes over 120 s). */
export function startEngine(r: EngineRun) {
  const [cmd, args] = command(r);
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const running = async () => {
    const until = Date.now() + 120_000;
    while (!out.stdout.includes('RUNNING')) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`${r.engine} never RUNNING: ${out.stderr.slice(-500)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  /** The engine's `RESULT {...}` line, parsed, once it exited. */
  const result = () => {
    const line = out.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    return line === undefined ? undefined : (JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>);
  };
  return { child, out, exited, running, result };
}

/** The p-th percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
