/** PostgreSQL projections against the real server (127.0.0.1:5432, database `test`), each test in schemas of its own. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, serdes } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { ProjectionRunner } from '../../src/eventsourcing/projection-runner.js';
import { postgresProjection } from '../../src/eventsourcing/postgres-projection.js';
import { eventually, produceDeposits, referenceLedger, type Deposit } from './helpers.js';
import { dropSchemas, pgLedgerProjection, PG_URL, readPgLedger, uniqueName } from './pg-helpers.js';

describe('PostgreSQL projection (real PostgreSQL)', () => {
  let dir: string;
  let log: Log;
  const prefix = uniqueName('tpg');

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-pgproj-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });

  after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
    await dropSchemas(prefix);
  });

  it('applies every event once with its offsets in one transaction, and resumes from the stored offsets', async () => {
    await log.admin.createTopics([{ name: 'deposits', partitions: 3 }]);
    await produceDeposits(log, 0, 1500);
    const schema = `${prefix}_a`;
    const p = pgLedgerProjection(schema, `${prefix}_cat_a`);
    const ledgerApp = app('pg-ledger', (b) => b.stream('deposits', { value: serdes.json<Deposit>() }).project(p));
    const run = async (expected: number) => {
      const runtime = new StreamsRuntime(ledgerApp, { log, logger: silentLogger, stateDir: join(dir, 'state') });
      await runtime.start();
      await eventually(`${expected} applied`, async () => (await readPgLedger(`${schema}_v1`).catch(() => ({ applied: -1 }))).applied === expected);
      await runtime.close();
    };
    await run(1500);
    await produceDeposits(log, 1500, 1800);
    await run(1800);
    const state = await readPgLedger(`${schema}_v1`);
    assert.equal(state.duplicates, 0);
    assert.deepEqual(state.balances, referenceLedger(0, 1800));

    const store = await p.openStore();
    assert.equal(await store.liveVersion(), 1);
    const offsets = await store.readOffsets(1, 'deposits');
    assert.equal([...offsets.values()].reduce((a, b) => a + b, 0), 1800);
    assert.deepEqual(await store.query('totals', {}), { accounts: 13, amount: [...referenceLedger(0, 1800).values()].reduce((n, b) => n + b.amount, 0), events: 1800 });
    await store.close();
  });

  it('fails a stale writer instead of letting it overwrite the offsets', async () => {
    const p = pgLedgerProjection(`${prefix}_b`, `${prefix}_cat_b`);
    const store = await p.openStore();
    const v = await store.ensureLive(1);
    const a = await store.openWriter(v);
    const b = await store.openWriter(v);
    await a.initOffsets('t', new Map([[0, 0]]));
    const batch = (from: number, to: number) => ({ records: [], offsets: [{ topic: 't', partition: 0, from, to }], requireLive: true });
    assert.deepEqual(await a.commit(batch(0, 5)), { kind: 'committed' });
    assert.deepEqual(await b.commit(batch(0, 3)), { kind: 'stale', topic: 't', partition: 0, stored: 5, expected: 0 });
    assert.equal((await b.readOffsets('t')).get(0), 5);
    await a.close();
    await b.close();
    await store.close();
  });

  it('rolls back the events of a batch whose apply fails, with its offsets', async () => {
    await log.admin.createTopics([{ name: 'pg-poison', partitions: 1 }]);
    await produceDeposits(log, 0, 50, 'pg-poison');
    const schema = `${prefix}_c`;
    const p = postgresProjection<string, Deposit>({
      name: 'poisoned',
      connectionString: PG_URL,
      schema,
      catalogSchema: `${prefix}_cat_c`,
      setup: async (db) => void (await db.query('CREATE TABLE seen (seq INT PRIMARY KEY)')),
      apply: async (db, d) => {
        if (d.seq === 30) throw new Error('cannot apply 30');
        await db.query('INSERT INTO seen VALUES ($1)', [d.seq]);
      },
    });
    const runtime = new StreamsRuntime(app('pg-poison-app', (b) => b.stream('pg-poison', { value: serdes.json<Deposit>() }).project(p), { maxPollRecords: 10 }), {
      log,
      logger: silentLogger,
      stateDir: join(dir, 'state'),
    });
    await runtime.start();
    await assert.rejects(runtime.stopped, /projection 'poisoned' failed to apply the record at topic 'pg-poison', partition 0, offset 30: cannot apply 30/);
    const store = await p.openStore();
    // Batches of 10: 0-9, 10-19, 20-29 committed; the batch with 30 left nothing behind.
    assert.equal((await store.readOffsets(1, 'pg-poison')).get(0), 30);
    const pgmod = (await import('pg')).default;
    const client = new pgmod.Client({ connectionString: PG_URL });
    await client.connect();
    assert.equal((await client.query(`SELECT COUNT(*)::int AS n FROM "${schema}_v1".seen`)).rows[0].n, 30);
    await client.end();
    await store.close();
  });

  it('a runner moves to a swapped-in version and fills it from that version’s offsets', async () => {
    await log.admin.createTopics([{ name: 'pg-swap', partitions: 2 }]);
    await produceDeposits(log, 0, 200, 'pg-swap');
    const schema = `${prefix}_d`;
    const p = pgLedgerProjection(schema, `${prefix}_cat_d`);
    const runner = new ProjectionRunner({
      applicationId: 'pg-swap-app',
      projection: p,
      source: { topic: 'pg-swap', keySerde: serdes.string(), valueSerde: serdes.json() },
      log,
      logger: silentLogger,
      errors: { deserialization: 'fail', processing: 'fail' },
    });
    await runner.start();
    await eventually('200 applied', async () => (await readPgLedger(`${schema}_v1`)).applied === 200);
    const store = await p.openStore();
    const v2 = await store.createVersion(1, null);
    const w = await store.openWriter(v2);
    await w.initOffsets('pg-swap', new Map([[0, 0], [1, 0]]));
    await w.close();
    assert.equal(await store.swap(1, v2, 'pg-swap', async (live) => [...live.values()].reduce((a, b) => a + b, 0) === 200), true);
    await produceDeposits(log, 200, 260, 'pg-swap');
    await eventually('version 2 filled and following', async () => (await readPgLedger(`${schema}_v2`)).applied === 260);
    assert.equal(runner.stats().version, 2);
    await runner.close();
    assert.deepEqual((await readPgLedger(`${schema}_v2`)).balances, referenceLedger(0, 260));
    await store.dropVersion(1, 0);
    assert.deepEqual((await store.versions()).map((v) => [v.version, v.state]), [[1, 'dropped'], [2, 'live']]);
    await store.close();
  });
});
