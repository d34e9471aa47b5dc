/**
 * `tributary rebuild` while `tributary run` keeps applying a stream of new events and a client
 * queries `tributary serve` in a loop: no query fails, none sees a partial view (every answer is
 * consistent, and the number of events it reflects never goes back, across the swap), and the
 * swapped-in version equals the reference fold of everything produced.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { spawnCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { appliedIn, eventually, ledgerFile, produceDeposits, readLedger, referenceLedger, versionFile } from './helpers.js';

const INITIAL = 40_000;
const fixture = 'test/projections/fixtures/ledger-app.ts';

interface Totals {
  events: number;
  amount: number;
  balances: number;
}

describe('rebuild under load: events flowing, queries in a loop, the app running', () => {
  const dir = tempDir('tributary-rebuild-load-');
  const file = ledgerFile(dir.path);
  const env = { TRIBUTARY_TEST_LEDGER: file };
  let log: Log;
  const children: RunningCli[] = [];

  before(async () => {
    log = openEmbeddedLog({ path: join(dir.path, 'log.db') });
    await log.admin.createTopics([{ name: 'deposits', partitions: 4 }]);
    await produceDeposits(log, 0, INITIAL);
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await log.close();
    dir.remove();
  });

  it('swaps in a complete version; no query fails or sees a partial view', async () => {
    const common = ['--skip-typecheck', '--log-level', 'warn'];
    const app = spawnCli(['run', fixture, '--state-dir', dir.path, ...common], { env });
    children.push(app);
    await eventually('the live version caught up', () => appliedIn(versionFile(file, 1)) === INITIAL, 90_000);

    const server = spawnCli(['serve', fixture, '--port', '0', ...common], { env });
    children.push(server);
    await server.waitForOutput(/on (http:\/\/\S+)\/projections/, { stream: 'stdout' });
    const base = /on (http:\/\/\S+)\/projections/.exec(server.stdout())![1]!;

    // Events keep flowing during the whole rebuild.
    let produced = INITIAL;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        await produceDeposits(log, produced, produced + 100);
        produced += 100;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    // A client queries in a loop.
    const answers: Totals[] = [];
    const failures: string[] = [];
    let querying = true;
    const client = (async () => {
      while (querying) {
        try {
          const res = await fetch(`${base}/projections/ledger/queries/totals`);
          const body = (await res.json()) as { result?: Totals; error?: string };
          if (res.status !== 200 || body.result === undefined) failures.push(`${res.status}: ${JSON.stringify(body)}`);
          else answers.push(body.result);
        } catch (err) {
          failures.push(String(err));
        }
      }
    })();

    const rebuild = spawnCli(['rebuild', fixture, 'ledger', '--state-dir', dir.path, ...common], { env, timeoutMs: 180_000 });
    children.push(rebuild);
    const done = await rebuild.exited;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /ledger: version 2 is live \(replaced version 1, dropped\); replayed \d+ record\(s\)/);
    // Progress on stderr: records, records/s and ETA (plain lines: stderr is not a terminal here).
    assert.match(done.stderr, /ledger v2 +\d+% +[\d,]+\/[\d,]+ records +[\d,]+ records\/s +ETA (\d+:\d\d|\?)/);
    const duringRebuild = answers.length;

    // Queries and events go on after the swap, now served by version 2.
    await eventually('more answers after the swap', () => answers.length >= duringRebuild + 20);
    producing = false;
    await producer;
    await eventually('version 2 has every event', () => appliedIn(versionFile(file, 2)) === produced, 90_000);
    await eventually('the answers show every event', () => answers.at(-1)!.events === produced);
    querying = false;
    await client;

    assert.deepEqual(failures, [], 'no query may fail');
    assert.ok(duringRebuild > 10, `queries ran during the rebuild (${duringRebuild})`);
    for (const a of answers) assert.equal(a.amount, a.balances, `a consistent view: ${JSON.stringify(a)}`);
    for (let i = 1; i < answers.length; i++) {
      assert.ok(answers[i]!.events >= answers[i - 1]!.events, `never a partial view: ${answers[i - 1]!.events} then ${answers[i]!.events}`);
    }
    assert.equal(existsSync(versionFile(file, 1)), false, 'version 1 was dropped');
    const v2 = readLedger(versionFile(file, 2));
    assert.equal(v2.duplicates, 0);
    assert.equal(v2.applied, produced);
    assert.deepEqual(v2.balances, referenceLedger(0, produced));

    for (const c of [server, app]) {
      c.kill('SIGTERM');
      const r = await c.exited;
      assert.equal(r.code, 0, r.stderr);
    }
  });
});
