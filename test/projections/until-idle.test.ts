/**
 * `tributary run --until-idle` stops only once the app's projections have caught up: right after
 * it exits, the read model holds every event of its topic, applied once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { ledgerFile, produceDeposits, readLedger, referenceLedger, versionFile } from './helpers.js';

const TOTAL = 30_000;

describe('run --until-idle with a projection', () => {
  const dir = tempDir('tributary-until-idle-');
  const file = ledgerFile(dir.path);

  before(async () => {
    const log = openEmbeddedLog({ path: join(dir.path, 'log.db') });
    await log.admin.createTopics([{ name: 'deposits', partitions: 3 }]);
    await produceDeposits(log, 0, TOTAL);
    await log.close();
  });
  after(() => dir.remove());

  it('waits for the projection to apply every event before it stops', async () => {
    // --idle-ms 1 and small polls: the stream side is idle long before the projection (one
    // database transaction per 20 records) has caught up; only the projection's lag holds the run.
    const r = await runCli(['run', 'test/projections/fixtures/ledger-app.ts', '--state-dir', dir.path, '--skip-typecheck', '--until-idle', '--idle-ms', '1', '--log-level', 'warn'], {
      env: { TRIBUTARY_TEST_LEDGER: file, TRIBUTARY_TEST_MAX_POLL: '20' },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ledger: idle, stopped/);
    const state = readLedger(versionFile(file, 1));
    assert.equal(state.applied, TOTAL, 'every event applied when run --until-idle returned');
    assert.equal(state.duplicates, 0);
    assert.deepEqual(state.balances, referenceLedger(0, TOTAL));
  });
});
