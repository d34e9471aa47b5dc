/**
 * One Tributary run of bench/suite.ts, in a process of its own (so that its peak RSS is its own):
 * runs a workload of bench/workloads.ts on a pre-produced input until the application's committed
 * offsets cover every record of its input topics, then prints one line
 * `RESULT {"engine":"tributary-kafka"|"tributary-platformatic"|"tributary-embedded",...}` (as
 * KafkaStreamsBench.java does).
 *
 *   node --conditions=development --import tsx bench/suite-tributary.ts --log kafka|platformatic|embedded
 *     (--brokers 127.0.0.1:19092 | --db path/log.db) --workload w1|w2|w3|w4 --input TOPIC [--table TOPIC]
 *     --output TOPIC --app-id ID --state-dir DIR [--guarantee exactly-once|at-least-once] [--commit-interval 100]
 *
 * Time runs from StreamsRuntime.start() (joining the group included, as on the Kafka Streams side)
 * to the first observation (polled every 20 ms once every input record was taken) of committed
 * offsets that reach the input topics' end offsets; msFromFirst is the same span from the first
 * record taken (start-up excluded).
 */
import { parseArgs } from 'node:util';
import { openEmbeddedLog } from '../src/log/embedded/index.js';
import { openKafkaLog } from '../src/log/kafka/index.js';
import { openPlatformaticLog } from '../src/log/platformatic/index.js';
import type { Log } from '../src/log/types.js';
import type { Logger } from '../src/runtime/logger.js';
import { StreamsRuntime } from '../src/runtime/streams-runtime.js';
import { peakRssKiB, tributaryApp, type Guarantee, type Workload } from './workloads.js';

const { values: a } = parseArgs({
  options: {
    log: { type: 'string', default: 'kafka' },
    brokers: { type: 'string', default: '127.0.0.1:19092' },
    db: { type: 'string' },
    workload: { type: 'string' },
    input: { type: 'string' },
    table: { type: 'string' },
    output: { type: 'string' },
    'app-id': { type: 'string' },
    'state-dir': { type: 'string' },
    guarantee: { type: 'string', default: 'exactly-once' },
    'commit-interval': { type: 'string', default: '100' },
    'record-cache': { type: 'string', default: '0' },
    'max-uncommitted': { type: 'string' },
    // wait for each commit before processing on (StreamsRuntimeOptions.pipelineCommits false)
    'no-pipeline': { type: 'boolean', default: false },
    // > 0: the input is produced while the app runs (bench/latency.ts); done once this many are committed
    'expect-records': { type: 'string', default: '0' },
    'timeout-s': { type: 'string', default: '900' },
    // the group committed part of the input before (bench/restore.ts restarts it after kill -9): check its offsets without waiting to take every record here
    resume: { type: 'boolean', default: false },
  },
});
const workload = a.workload as Workload;
const guarantee = a.guarantee as Guarantee;
const commitIntervalMs = Number(a['commit-interval']);
if (!workload || !a.input || !a.output || !a['app-id'] || !a['state-dir']) throw new Error('--workload, --input, --output, --app-id and --state-dir are required');
const logs: Record<string, () => Log> = {
  kafka: () => openKafkaLog({ brokers: a.brokers!, clientId: 'bench-suite', logLevel: 'error' }),
  platformatic: () => openPlatformaticLog({ brokers: a.brokers!, clientId: 'bench-suite' }),
  embedded: () => openEmbeddedLog({ path: a.db! }),
};
if (logs[a.log!] === undefined) throw new Error(`--log ${a.log}: expected one of ${Object.keys(logs).join(', ')}`);
const engine = `tributary-${a.log}`;
const log = logs[a.log!]!();
const inputs = workload === 'w4' ? [a.input, a.table!] : [a.input];

let error: string | null = null;
let ms = -1;
let msFromFirst = -1;
let firstAt = -1;
let records = 0;
let outputs = 0;
let dropped: Record<string, number> = {};
let restored = 0;
let msToRunning = -1;
// restore span (bench/restore.ts): from the earliest task restore's start to the latest one's end, read off the restorer's log lines
const restoreSpans: { start: number; end: number }[] = [];
const quiet = () => undefined;
const logger: Logger = {
  debug: quiet,
  warn: quiet,
  error: quiet,
  info(message) {
    const m = / restored \d+ record\(s\) into .* in (\d+) ms$/.exec(message);
    if (m) restoreSpans.push({ start: performance.now() - Number(m[1]), end: performance.now() });
  },
};
try {
  const ends = await Promise.all(inputs.map((t) => log.admin.offsets(t)));
  let expected = ends.flat().reduce((n, p) => n + p.high, 0);
  records = ends[0]!.reduce((n, p) => n + p.high, 0);
  const expectRecords = Number(a['expect-records']);
  if (expectRecords > 0) {
    expected += expectRecords - records;
    records = expectRecords;
  }
  const partitions = ends[0]!.length;
  await log.admin.createTopics([{ name: a.output, partitions }]);

  const topology = tributaryApp(workload, { applicationId: a['app-id'], input: a.input, table: a.table, output: a.output, guarantee, commitIntervalMs, recordCacheSize: Number(a['record-cache']), ...(a['max-uncommitted'] !== undefined ? { maxUncommittedRecords: Number(a['max-uncommitted']) } : {}) });
  const runtime = new StreamsRuntime(topology, { log, logger, stateDir: a['state-dir'], pipelineCommits: !a['no-pipeline'] });
  const failed = runtime.stopped.then(
    () => 'stopped before the end',
    (e: unknown) => String(e),
  );
  const t0 = performance.now();
  await runtime.start();
  msToRunning = performance.now() - t0;
  console.log('RUNNING');
  const deadline = t0 + Number(a['timeout-s']) * 1000;
  let committed = 0;
  for (;;) {
    const outcome = await Promise.race([failed, new Promise<null>((r) => setTimeout(() => r(null), 20))]);
    if (outcome !== null) {
      error = outcome;
      break;
    }
    if (performance.now() > deadline) {
      error = `timed out with ${committed} of ${expected} offsets committed`;
      break;
    }
    const taken = runtime.stats().recordsIn;
    if (firstAt < 0 && taken > 0) firstAt = performance.now();
    if (taken < expected && !a.resume) continue;
    committed = (await log.admin.committedOffsets(a['app-id'], inputs)).reduce((n, c) => n + c.offset, 0);
    if (committed >= expected) {
      const now = performance.now();
      ms = now - t0;
      msFromFirst = now - firstAt;
      break;
    }
  }
  const stats = runtime.stats();
  outputs = Object.values(stats.recordsOut).reduce((n, v) => n + v, 0);
  dropped = stats.dropped;
  restored = stats.restored;
  await runtime.close();
} catch (e) {
  error = String(e instanceof Error ? (e.stack ?? e.message) : e);
} finally {
  await log.close().catch(() => undefined);
}
console.log(
  `RESULT ${JSON.stringify({ engine, workload, guarantee, commitIntervalMs, records, outputs, dropped, ms: Math.round(ms), msFromFirst: Math.round(msFromFirst), recordsPerSec: ms > 0 ? records / (ms / 1000) : 0, peakRssKiB: peakRssKiB(), restored, restoreMs: restoreSpans.length === 0 ? 0 : Math.round(Math.max(...restoreSpans.map((s) => s.end)) - Math.min(...restoreSpans.map((s) => s.start))), msToRunning: Math.round(msToRunning), error })}`,
);
process.exit(error === null ? 0 : 1);
