/**
 * The reset scenario both backends run through the CLI (test/projections/reset*.test.ts): run a
 * counting app with a projection, reset it (dry run, refused while running, to earliest, to a
 * time), run it again, and check what it reprocessed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Log } from '../../src/log/types.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { deposit, readLedger, referenceLedger, versionFile } from './helpers.js';

export const resetFixture = 'test/projections/fixtures/reset-app.ts';

export interface ResetScenario {
  log: Log;
  prefix: string;
  /** --state-dir (and --brokers) for every command. */
  flags: string[];
  stateDir: string;
  ledger: string;
  total: number;
}

/** Records of a topic from offset 0 at read_committed: the last int32 value per key, and how many. */
export async function lastCounts(log: Log, topic: string): Promise<{ last: Map<string, number>; records: number }> {
  const parts = await log.admin.offsets(topic);
  const end = new Map(parts.map((p) => [p.partition, p.high]));
  const consumer = log.consumer({ maxPollRecords: 5000, isolationLevel: 'read_committed' });
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  for (const p of parts) consumer.seek({ topic, partition: p.partition }, p.low);
  const last = new Map<string, number>();
  const at = new Map(parts.map((p) => [p.partition, p.low]));
  let records = 0;
  try {
    const deadline = Date.now() + 60_000;
    // Kafka: transaction markers take offsets, so the last record may end below `high`; a few
    // empty polls in a row then mean the end was reached.
    let empty = 0;
    while ([...at].some(([p, o]) => o < end.get(p)!) && empty < 5) {
      if (Date.now() > deadline) assert.fail(`could not read ${topic} to its end`);
      const polled = await consumer.poll(200);
      empty = polled.length === 0 ? empty + 1 : 0;
      for (const r of polled) {
        records++;
        last.set(r.key!.toString(), r.value!.readInt32BE(0));
        at.set(r.partition, r.offset + 1);
      }
    }
  } finally {
    await consumer.close();
  }
  return { last, records };
}

/** Bucket counts of deposits with seq in [from, to). */
export function expectedBuckets(from: number, to: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let seq = from; seq < to; seq++) m.set(`b${seq % 5}`, (m.get(`b${seq % 5}`) ?? 0) + 1);
  return m;
}

const sorted = (m: Map<string, number>) => new Map([...m].sort());

export function cli(s: ResetScenario, args: string[]) {
  return runCli([...args, ...s.flags, '--skip-typecheck'], { env: { TRIBUTARY_TEST_PREFIX: s.prefix, TRIBUTARY_TEST_LEDGER: s.ledger }, timeoutMs: 180_000 });
}

export async function runUntilIdle(s: ResetScenario): Promise<number> {
  const r = await cli(s, ['run', resetFixture, '--until-idle', '--idle-ms', '300', '--log-level', 'warn']);
  assert.equal(r.code, 0, r.stderr);
  return Number(/records in:\s+(\d+)/.exec(r.stdout)?.[1]);
}

async function committed(s: ResetScenario): Promise<string> {
  const offsets = await s.log.admin.committedOffsets(`${s.prefix}-app`, [`${s.prefix}-deposits`]);
  return JSON.stringify(offsets.sort((a, b) => a.partition - b.partition));
}

async function snapshot(s: ResetScenario): Promise<string> {
  const topics = (await s.log.admin.listTopics()).filter((t) => t.startsWith(`${s.prefix}-`)).sort();
  return JSON.stringify({ committed: await committed(s), topics, state: existsSync(join(s.stateDir, 'state', `${s.prefix}-app`)), ledger: readLedger(versionFile(s.ledger, 1)).applied });
}

/** Creates the deposits and runs the app once: every deposit counted and projected (version 1). */
export async function firstRun(s: ResetScenario): Promise<void> {
  await s.log.admin.createTopics([{ name: `${s.prefix}-deposits`, partitions: 3 }]);
  const producer = s.log.producer();
  const records = [];
  for (let seq = 0; seq < s.total; seq++) records.push({ ...deposit(seq), topic: `${s.prefix}-deposits` });
  await producer.send(records);
  await producer.close();
  assert.equal(await runUntilIdle(s), s.total);
  assert.deepEqual(sorted((await lastCounts(s.log, `${s.prefix}-bucket-counts`)).last), sorted(expectedBuckets(0, s.total)));
  assert.equal(readLedger(versionFile(s.ledger, 1)).applied, s.total);
}

/** --dry-run prints the plan and changes nothing. */
export async function dryRunChangesNothing(s: ResetScenario): Promise<void> {
  const before = await snapshot(s);
  const r = await cli(s, ['reset', resetFixture, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`rewind input '${s.prefix}-deposits'`));
  assert.match(r.stdout, /delete internal topic\(s\).*-repartition.*-changelog/);
  assert.match(r.stdout, /projection 'ledger' .*new empty version/);
  assert.match(r.stdout, /Dry run: nothing was changed/);
  assert.equal(await snapshot(s), before);
}

/** A reset while `tributary run` runs is refused, and changes nothing. */
export async function refusedWhileRunning(s: ResetScenario): Promise<void> {
  const before = await snapshot(s);
  const running = spawnCli(['run', resetFixture, ...s.flags, '--skip-typecheck', '--log-level', 'info'], { env: { TRIBUTARY_TEST_PREFIX: s.prefix, TRIBUTARY_TEST_LEDGER: s.ledger }, timeoutMs: 180_000 });
  try {
    await running.waitForOutput(`running '${s.prefix}-app'`, { timeoutMs: 90_000 });
    const r = await cli(s, ['reset', resetFixture]);
    assert.equal(r.code, 1, `the reset should be refused:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /live member|already running/);
    assert.match(r.stderr, /nothing was reset/);
  } finally {
    running.kill('SIGTERM');
    const done = await running.exited;
    assert.equal(done.code, 0, done.stderr);
  }
  assert.equal(await snapshot(s), before);
}

/** reset --to-earliest, then a run reprocesses every deposit from empty state into a new read model. */
export async function resetToEarliestReprocesses(s: ResetScenario): Promise<void> {
  const r = await cli(s, ['reset', resetFixture, '--to-earliest']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /deleted internal topic\(s\)/);
  assert.match(r.stdout, /projection 'ledger': version 2 is live/);
  assert.equal(existsSync(join(s.stateDir, 'state', `${s.prefix}-app`)), false, 'local state removed');
  assert.equal(existsSync(versionFile(s.ledger, 1)), false, 'version 1 of the read model dropped');
  assert.equal(readLedger(versionFile(s.ledger, 2)).applied, 0);
  const internal = (await s.log.admin.listTopics()).filter((t) => t.startsWith(`${s.prefix}-app-`));
  assert.deepEqual(internal, [], 'internal topics deleted');
  assert.equal(await runUntilIdle(s), s.total, 'every deposit reprocessed');
  const counts = await lastCounts(s.log, `${s.prefix}-bucket-counts`);
  assert.equal(counts.records, 2 * s.total, 'the output topic is not touched: the rerun appended a second set of counts');
  assert.deepEqual(sorted(counts.last), sorted(expectedBuckets(0, s.total)), 'counts start from empty state again, not doubled');
  const ledger = readLedger(versionFile(s.ledger, 2));
  assert.equal(ledger.duplicates, 0);
  assert.equal(ledger.applied, s.total);
  assert.deepEqual(ledger.balances, referenceLedger(0, s.total));
}

/** reset --to-datetime: the rerun reprocesses only the deposits from that time on. */
export async function resetToDatetime(s: ResetScenario): Promise<void> {
  const from = Math.floor(s.total / 2);
  const at = new Date(deposit(from).timestamp).toISOString();
  const before = (await lastCounts(s.log, `${s.prefix}-bucket-counts`)).records;
  const r = await cli(s, ['reset', resetFixture, '--to-datetime', at]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, new RegExp(`to ${at.replace(/\./g, '\\.')}`));
  assert.equal(await runUntilIdle(s), s.total - from, 'only the deposits from the reset time on');
  const counts = await lastCounts(s.log, `${s.prefix}-bucket-counts`);
  assert.equal(counts.records, before + s.total - from);
  assert.deepEqual(sorted(counts.last), sorted(expectedBuckets(from, s.total)));
  const ledger = readLedger(versionFile(s.ledger, 3));
  assert.equal(ledger.duplicates, 0);
  assert.deepEqual(ledger.seqs, new Set(Array.from({ length: s.total - from }, (_, i) => from + i)));
  assert.deepEqual(ledger.balances, referenceLedger(from, s.total));
}
