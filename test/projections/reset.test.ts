/**
 * `tributary reset` on the embedded log, through the CLI: dry run, refusal while running, reset to
 * earliest and to a time, each followed by a run that reprocesses exactly what it should.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { parseDuration } from '../../src/cli/commands/reset.js';
import { execFileSync } from 'node:child_process';
import { repoRoot, runCli, tempDir } from '../helpers/cli.js';
import { balancesProjection } from '../../topologies/bank-accounts.js';
import { ledgerFile } from './helpers.js';
import { dryRunChangesNothing, firstRun, refusedWhileRunning, resetFixture, resetToDatetime, resetToEarliestReprocesses, type ResetScenario } from './reset-scenario.js';

describe('tributary reset on the embedded log', () => {
  const dir = tempDir('tributary-reset-');
  const s: ResetScenario = {
    log: openEmbeddedLog({ path: join(dir.path, 'log.db') }),
    prefix: 'reset',
    flags: ['--state-dir', dir.path],
    stateDir: dir.path,
    ledger: ledgerFile(dir.path),
    total: 3000,
  };
  before(() => firstRun(s));
  after(async () => {
    await s.log.close();
    dir.remove();
  });

  it('--dry-run prints the plan and changes nothing', () => dryRunChangesNothing(s));
  it('refuses while the application runs, changing nothing', () => refusedWhileRunning(s));
  it('--to-earliest: the next run reprocesses everything from empty state', () => resetToEarliestReprocesses(s));
  it('--to-datetime: the next run reprocesses from that time on', () => resetToDatetime(s));

  it('an event-sourced app: keeps the commands and events, rebuilds the aggregate and read models from the events', async () => {
    const bank = tempDir('tributary-reset-bank-');
    try {
      const env = { BANK_READ_MODELS: join(bank.path, 'read-models') };
      const cli = (args: string[], input?: string) =>
        runCli([...args, '--state-dir', bank.path, ...(args[1]?.endsWith('.ts') ? ['--skip-typecheck'] : [])], { env, ...(input === undefined ? {} : { input }) });
      const commands = execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'examples/bank/generate-commands.ts'), '--count', '200', '--accounts', '6', '--seed', '3'], { cwd: repoRoot, encoding: 'utf8' });
      assert.equal((await cli(['topics', '--create', 'account-commands', '--partitions', '2'])).code, 0);
      assert.equal((await cli(['produce', 'account-commands'], commands)).code, 0);
      assert.equal((await cli(['run', 'topologies/bank-accounts.ts', '--until-idle', '--idle-ms', '200'])).code, 0);
      const log = openEmbeddedLog({ path: join(bank.path, 'log.db') });
      const events = async () => (await log.admin.offsets('account-events')).reduce((n, p) => n + p.high, 0);
      const eventsBefore = await events();
      const live = async () => {
        const store = await balancesProjection(join(bank.path, 'read-models', 'balances.db')).openStore();
        try {
          return { version: await store.liveVersion(), rows: await store.query('all', {}) };
        } finally {
          await store.close();
        }
      };
      const before = await live();
      assert.equal(before.version, 1);

      // A reset to a time is refused: the bank's projections need every event since offset 0.
      const timed = await cli(['reset', 'topologies/bank-accounts.ts', '--by-duration', '2h']);
      assert.equal(timed.code, 2, timed.stdout + timed.stderr);
      assert.match(timed.stderr, /projection 'balances' needs every event since offset 0/);

      const r = await cli(['reset', 'topologies/bank-accounts.ts']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /keep input 'account-commands' where it is: its records were decided already into 'account-events'/);
      assert.match(r.stdout, /not touched: .*account-events/);
      assert.doesNotMatch(r.stdout, /delete internal topic\(s\)[^\n]*account-events/);
      const again = await cli(['run', 'topologies/bank-accounts.ts', '--until-idle', '--idle-ms', '200']);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /records in:\s+0\b/, 'no command is decided again');
      assert.equal(await events(), eventsBefore, 'the events topic is untouched');
      const after = await live();
      assert.equal(after.version, 2, 'a new version of the read model was built');
      assert.deepEqual(after.rows, before.rows, 'rebuilt from the events: the same balances');
      await log.close();
    } finally {
      bank.remove();
    }
  });

  it('flags: one reset point at a time; durations in ISO 8601 or short form', async () => {
    const r = await runCli(['reset', resetFixture, '--to-earliest', '--by-duration', '2h', '--state-dir', dir.path]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give one of --to-earliest, --to-datetime, --by-duration/);
    assert.equal(parseDuration('90m'), 90 * 60_000);
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    assert.equal(parseDuration('PT90M'), 90 * 60_000);
    assert.equal(parseDuration('P1DT2H'), 26 * 3_600_000);
    assert.equal(parseDuration('PT1.5S'), 1500);
    for (const bad of ['P', 'PT', '2 hours', '-5m', 'P1Y']) assert.equal(parseDuration(bad), undefined, bad);
  });
});
