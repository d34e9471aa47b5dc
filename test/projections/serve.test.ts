import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serdes } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { ProjectionRunner } from '../../src/eventsourcing/projection-runner.js';
import { serveProjections, type ProjectionServer } from '../../src/eventsourcing/projection-http.js';
import { runCli } from '../helpers/cli.js';
import { appliedIn, eventually, ledgerProjection, produceDeposits, referenceLedger, versionFile } from './helpers.js';

describe('projection queries over HTTP', () => {
  let dir: string;
  let log: Log;
  let server: ProjectionServer;
  let runner: ProjectionRunner;
  let file: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-serve-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
    await log.admin.createTopics([{ name: 'deposits', partitions: 2 }]);
    await produceDeposits(log, 0, 100);
    file = join(dir, 'ledger.db');
    const p = ledgerProjection(file);
    runner = new ProjectionRunner({ applicationId: 'serve-app', projection: p, source: { topic: 'deposits', keySerde: serdes.string(), valueSerde: serdes.json() }, log, logger: silentLogger, errors: { deserialization: 'fail', processing: 'fail' } });
    await runner.start();
    await eventually('100 applied', () => appliedIn(versionFile(file, 1)) === 100);
    server = await serveProjections({ projections: [p], port: 0 });
  });

  after(async () => {
    await server.close();
    await runner.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(server.url + path, init);
    return { status: res.status, body: (await res.json()) as any };
  };

  it('answers a named query with its parameters, against the live version', async () => {
    const expected = referenceLedger(0, 100).get('acct-1')!;
    assert.deepEqual(await get('/projections/ledger/queries/balance?account=acct-1'), { status: 200, body: { result: { account: 'acct-1', ...expected } } });
    assert.deepEqual((await get('/projections/ledger/queries/balance?account=nobody')).body, { result: null });
  });

  it('lists the projections and the versions of one', async () => {
    assert.deepEqual(await get('/projections'), { status: 200, body: [{ name: 'ledger', backend: 'sqlite', version: 1, live: 1, queries: ['totals', 'balance'] }] });
    const one = await get('/projections/ledger');
    assert.equal(one.body.live, 1);
    assert.deepEqual(one.body.versions.map((v: { version: number; state: string }) => [v.version, v.state]), [[1, 'live']]);
  });

  it('answers unknown projections and queries with 404, other methods with 405, as JSON errors', async () => {
    assert.deepEqual(await get('/projections/nope/queries/totals'), { status: 404, body: { error: "no projection 'nope' (projections: ledger)" } });
    assert.deepEqual(await get('/projections/ledger/queries/drop_tables'), { status: 404, body: { error: "projection 'ledger' has no query 'drop_tables' (queries: totals, balance)" } });
    assert.equal((await get('/projections/ledger/queries/totals', { method: 'POST' })).status, 405);
    assert.equal((await get('/elsewhere')).status, 404);
  });
});

describe('rebuild and serve on the command line', () => {
  it('rejects a projection the topology does not have, with exit code 2', async () => {
    const r = await runCli(['rebuild', 'test/projections/fixtures/ledger-app.ts', 'nope', '--skip-typecheck']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /has no projection 'nope' \(projections: ledger\)/);
  });

  it('rejects a --from that is not a date, and a missing projection argument, with exit code 2', async () => {
    const bad = await runCli(['rebuild', 'test/projections/fixtures/ledger-app.ts', 'ledger', '--from', 'yesterday-ish']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--from must be a date and time/);
    const missing = await runCli(['rebuild', 'test/projections/fixtures/ledger-app.ts']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing <projection>/);
    const port = await runCli(['serve', 'test/projections/fixtures/ledger-app.ts', '--port', 'http']);
    assert.equal(port.code, 2);
  });
});
