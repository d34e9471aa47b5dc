/**
 * kill -9 `tributary run` at random moments while its projection works through 60k deposits,
 * restart it each time, and check the read model equals the reference fold: every deposit
 * applied exactly once (no duplicate, nothing lost), whatever moment the process died at.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { spawnCli, tempDir } from '../helpers/cli.js';
import { appliedIn, eventually, ledgerFile, produceDeposits, readLedger, referenceLedger, versionFile } from './helpers.js';

const TOTAL = 60_000;
const KILLS = 5;
const fixture = 'test/projections/fixtures/ledger-app.ts';

describe('crash test: kill -9 during `tributary run` with a SQLite projection', () => {
  const dir = tempDir('tributary-proj-crash-');
  const file = ledgerFile(dir.path);
  let log: Log;

  before(async () => {
    log = openEmbeddedLog({ path: join(dir.path, 'log.db') });
    await log.admin.createTopics([{ name: 'deposits', partitions: 4 }]);
    await produceDeposits(log, 0, TOTAL);
  });

  after(async () => {
    await log.close();
    dir.remove();
  });

  const applied = () => appliedIn(versionFile(file, 1));

  it(`applies each event exactly once across ${KILLS} kill -9s`, async () => {
    const args = ['run', fixture, '--state-dir', dir.path, '--skip-typecheck', '--log-level', 'warn'];
    const env = { TRIBUTARY_TEST_LEDGER: file };
    const killedAt: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const before = applied();
      const target = before + Math.floor(((TOTAL - before) / (KILLS + 1 - i)) * (0.3 + Math.random() * 0.7));
      const child = spawnCli(args, { env, timeoutMs: 120_000 });
      await eventually(`${target} applied`, () => applied() >= target, 60_000);
      child.kill('SIGKILL');
      const result = await child.exited;
      assert.equal(result.signal, 'SIGKILL', `run ${i} should have been killed, it exited with ${result.code}: ${result.stderr}`);
      killedAt.push(applied());
    }
    assert.ok(killedAt.every((n) => n < TOTAL), `kills at ${killedAt.join(', ')}`);
    assert.ok(killedAt[KILLS - 1]! > killedAt[0]!, `progress across kills: ${killedAt.join(', ')}`);

    const last = spawnCli(args, { env, timeoutMs: 120_000 });
    await eventually('all events applied', () => applied() === TOTAL, 60_000);
    last.kill('SIGTERM');
    const done = await last.exited;
    assert.equal(done.code, 0, done.stderr);

    const state = readLedger(versionFile(file, 1));
    assert.equal(state.duplicates, 0, 'no event may be applied twice');
    assert.equal(state.applied, TOTAL, 'no event may be lost');
    assert.deepEqual(state.balances, referenceLedger(0, TOTAL));
  });

  it('a rebuild killed with kill -9 resumes where it stopped, and swaps in the same read model', async () => {
    const args = ['rebuild', fixture, 'ledger', '--state-dir', dir.path, '--skip-typecheck', '--log-level', 'info'];
    const env = { TRIBUTARY_TEST_LEDGER: file };
    const v2 = versionFile(file, 2);
    const child = spawnCli(args, { env, timeoutMs: 120_000 });
    await eventually('the rebuild part way', () => appliedIn(v2) >= TOTAL / 4, 60_000);
    child.kill('SIGKILL');
    assert.equal((await child.exited).signal, 'SIGKILL');
    const partial = readLedger(v2).applied;
    assert.ok(partial < TOTAL, `killed before the end (${partial})`);

    const again = await spawnCli(args, { env, timeoutMs: 120_000 }).exited;
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /resuming the rebuild of version 2 where it stopped/);
    const replayed = Number(/resumed, replayed (\d+) record/.exec(again.stdout)?.[1]);
    assert.equal(replayed, TOTAL - partial, 'the second run applies only what the first did not');
    const state = readLedger(v2);
    assert.equal(state.duplicates, 0);
    assert.equal(state.applied, TOTAL);
    assert.deepEqual(state.balances, referenceLedger(0, TOTAL));
    assert.equal(existsSync(versionFile(file, 1)), false);
  });
});
