import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serdes, UsageError } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { ProjectionRunner } from '../../src/eventsourcing/projection-runner.js';
import { rebuildProjection, type RebuildProgress } from '../../src/eventsourcing/rebuild.js';
import { formatProgress } from '../../src/eventsourcing/rebuild-progress.js';
import { sqliteProjection } from '../../src/eventsourcing/sqlite-projection.js';
import { appliedIn, eventually, ledgerProjection, produceDeposits, readLedger, referenceLedger, versionFile, type Deposit } from './helpers.js';

const source = (topic: string) => ({ topic, keySerde: serdes.string(), valueSerde: serdes.json() });
const errors = { deserialization: 'fail', processing: 'fail' } as const;

describe('rebuildProjection()', () => {
  let dir: string;
  let log: Log;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-rebuild-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });

  after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds version 2 up to the live offsets with replaying = true, swaps it in, drops version 1; the live runner moves on with replaying = false', async () => {
    await log.admin.createTopics([{ name: 'r1', partitions: 3 }]);
    await produceDeposits(log, 0, 3000, 'r1');
    const file = join(dir, 'r1', 'ledger.db');
    const seen: { seq: number; replaying: boolean }[] = [];
    const p = ledgerProjection(file, { onApply: (d, replaying) => seen.push({ seq: d.seq, replaying }) });
    const runner = new ProjectionRunner({ applicationId: 'r1-app', projection: p, source: source('r1'), log, logger: silentLogger, errors });
    await runner.start();
    await eventually('live version caught up', () => appliedIn(versionFile(file, 1)) === 3000);
    assert.ok(seen.every((s) => !s.replaying));
    seen.length = 0;

    const progress: RebuildProgress[] = [];
    const result = await rebuildProjection({ projection: p, source: source('r1'), log, logger: silentLogger, errors, onProgress: (x) => progress.push(x), dropGraceMs: 0 });
    assert.deepEqual({ version: result.version, replaced: result.replaced, applied: result.applied, resumed: result.resumed, dropped: result.dropped }, { version: 2, replaced: 1, applied: 3000, resumed: false, dropped: true });
    assert.equal(seen.length, 3000);
    assert.ok(seen.every((s) => s.replaying), 'a rebuild replays history');
    assert.equal(progress.at(-1)!.phase, 'swapped');
    assert.match(formatProgress(progress.at(-1)!, true), /ledger v2 \[#+\] 100% {2}3,000\/3,000 records {2}[\d,]+ records\/s {2}ETA \d+:\d\d {2}swapped/);
    assert.equal(existsSync(versionFile(file, 1)), false, 'version 1 is dropped');

    seen.length = 0;
    await produceDeposits(log, 3000, 3100, 'r1');
    await eventually('the live runner writes version 2', () => appliedIn(versionFile(file, 2)) === 3100);
    assert.equal(runner.stats().version, 2);
    assert.ok(seen.length === 100 && seen.every((s) => !s.replaying));
    await runner.close();
    const v2 = readLedger(versionFile(file, 2));
    assert.equal(v2.duplicates, 0);
    assert.deepEqual(v2.balances, referenceLedger(0, 3100));
  });

  it('rebuilds only up to where the live version is when the application is stopped, and keeps the old one with keep', async () => {
    await log.admin.createTopics([{ name: 'r2', partitions: 2 }]);
    await produceDeposits(log, 0, 500, 'r2');
    const file = join(dir, 'r2', 'ledger.db');
    const p = ledgerProjection(file);
    const runner = new ProjectionRunner({ applicationId: 'r2-app', projection: p, source: source('r2'), log, logger: silentLogger, errors });
    await runner.start();
    await eventually('500 applied', () => appliedIn(versionFile(file, 1)) === 500);
    await runner.close();
    await produceDeposits(log, 500, 800, 'r2');
    const result = await rebuildProjection({ projection: p, source: source('r2'), log, logger: silentLogger, errors, keep: true });
    // The 300 newer events are the live runner's to apply (with their side effects), after the swap.
    assert.equal(result.applied, 500);
    assert.equal(readLedger(versionFile(file, 2)).applied, 500);
    assert.equal(existsSync(versionFile(file, 1)), true, 'version 1 is kept');
    const store = await p.openStore();
    assert.deepEqual((await store.versions()).map((v) => [v.version, v.state]), [[1, 'retired'], [2, 'live']]);
    await store.close();
  });

  it('replays --from a point in time only when the projection allows it', async () => {
    await log.admin.createTopics([{ name: 'r3', partitions: 2 }]);
    await produceDeposits(log, 0, 1000, 'r3');
    const file = join(dir, 'r3', 'ledger.db');
    const p = ledgerProjection(file);
    const runner = new ProjectionRunner({ applicationId: 'r3-app', projection: p, source: source('r3'), log, logger: silentLogger, errors });
    await runner.start();
    await eventually('1000 applied', () => appliedIn(versionFile(file, 1)) === 1000);
    // deposit(seq) has timestamp 1_700_000_000_000 + seq: from seq 600 on.
    const from = new Date(1_700_000_000_000 + 600);
    const result = await rebuildProjection({ projection: p, source: source('r3'), log, logger: silentLogger, errors, from, dropGraceMs: 0 });
    await runner.close();
    assert.equal(result.applied, 400);
    const v2 = readLedger(versionFile(file, 2));
    assert.deepEqual([...v2.seqs].sort((a, b) => a - b), Array.from({ length: 400 }, (_, i) => 600 + i));

    const strict = sqliteProjection<string, Deposit>({ name: 'strict', file: join(dir, 'r3', 'strict.db'), setup() {}, apply() {} });
    await assert.rejects(
      rebuildProjection({ projection: strict, source: source('r3'), log, logger: silentLogger, errors, from }),
      (err: unknown) => err instanceof UsageError && /cannot be rebuilt --from a point in time; declare replayFromTime: true/.test(err.message),
    );
  });

  it('resumes a rebuild that stopped, from the new version’s own offsets', async () => {
    await log.admin.createTopics([{ name: 'r4', partitions: 2 }]);
    await produceDeposits(log, 0, 4000, 'r4');
    const file = join(dir, 'r4', 'ledger.db');
    const p = ledgerProjection(file);
    const runner = new ProjectionRunner({ applicationId: 'r4-app', projection: p, source: source('r4'), log, logger: silentLogger, errors });
    await runner.start();
    await eventually('4000 applied', () => appliedIn(versionFile(file, 1)) === 4000);
    await runner.close();
    const abort = new AbortController();
    await assert.rejects(
      rebuildProjection({ projection: p, source: source('r4'), log, logger: silentLogger, errors, maxPollRecords: 500, signal: abort.signal, onProgress: (x) => x.applied >= 1000 && abort.abort() }),
      /interrupted after \d+ records; run it again to resume/,
    );
    const partial = readLedger(versionFile(file, 2)).applied;
    assert.ok(partial >= 1000 && partial < 4000, `stopped part way: ${partial}`);
    const result = await rebuildProjection({ projection: p, source: source('r4'), log, logger: silentLogger, errors, dropGraceMs: 0 });
    assert.equal(result.resumed, true);
    assert.equal(result.version, 2);
    assert.equal(result.applied, 4000 - partial);
    const v2 = readLedger(versionFile(file, 2));
    assert.equal(v2.duplicates, 0);
    assert.deepEqual(v2.balances, referenceLedger(0, 4000));
  });
});
