// Runs the whole test suite: circular-import check, type check, then every test file under
// test/ with node's test runner (TypeScript loaded through tsx). Ends with node's summary line.
//
// Kafka tests run against KAFKA_BROKERS when it is set. Otherwise, when the run includes them
// (the full suite, or a test file with "kafka" in its name) and Java is installed, this starts a
// local broker with `scripts/kafka.sh up` (a broker already running there is reused and left
// running), exports KAFKA_BROKERS to the tests, and stops the broker it started at the end
// (TRIBUTARY_KAFKA_KEEP=1 leaves it running for the next run). Without Java, Kafka tests are
// skipped with the reason; under CI=true a skipped Kafka test fails the run.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out.sort();
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : findTests(join(root, 'test'));
if (only.length === 0) {
  run('npx', ['--no-install', 'madge', '--circular', '--extensions', 'ts', '--ts-config', 'tsconfig.json', 'src']);
  run('npx', ['--no-install', 'tsc', '-p', 'tsconfig.json', '--noEmit']);
}
if (files.length === 0) {
  console.error('no test files found under test/');
  process.exit(1);
}

/** Makes a Kafka broker available to the tests; returns true when this run started it. */
function provideKafka() {
  if (process.env.KAFKA_BROKERS) {
    console.error(`test: Kafka tests use KAFKA_BROKERS=${process.env.KAFKA_BROKERS}`);
    return false;
  }
  const unavailable = (reason) => {
    process.env.TRIBUTARY_KAFKA_UNAVAILABLE = reason;
    console.error(`test: ${reason}: Kafka tests will be ${process.env.CI === 'true' ? 'reported as failed (CI=true)' : 'skipped'}`);
    return false;
  };
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) {
    return unavailable('Java was not found on PATH, so no local Kafka broker can run (set KAFKA_BROKERS to use one elsewhere)');
  }
  const status = spawnSync('bash', ['scripts/kafka.sh', 'status'], { cwd: root, encoding: 'utf8' });
  if (status.status === 0) {
    process.env.KAFKA_BROKERS = status.stdout.trim().split('\n').at(-1);
    console.error(`test: Kafka tests use the broker already running at ${process.env.KAFKA_BROKERS}`);
    return false;
  }
  const started = Date.now();
  const up = spawnSync('bash', ['scripts/kafka.sh', 'up'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const address = up.stdout?.trim().split('\n').at(-1);
  if (up.status !== 0 || !address) return unavailable(`scripts/kafka.sh up failed (exit ${up.status ?? up.signal})`);
  process.env.KAFKA_BROKERS = address;
  console.error(`test: started a Kafka broker at ${address} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

const wantsKafka = only.length === 0 || files.some((f) => /kafka/i.test(f));
const startedKafka = wantsKafka ? provideKafka() : false;
const stopKafka = () => {
  if (startedKafka && process.env.TRIBUTARY_KAFKA_KEEP !== '1') spawnSync('bash', ['scripts/kafka.sh', 'down'], { cwd: root, stdio: 'inherit' });
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopKafka();
    process.exit(130);
  });
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const args = ['--conditions=development', '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
stopKafka();
if (result.status !== 0) console.error(`\n${process.execPath} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
process.exit(result.status ?? 1);
