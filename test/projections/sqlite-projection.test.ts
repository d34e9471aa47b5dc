import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, serdes, TopologyError, ProcessingError } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { sqliteProjection } from '../../src/eventsourcing/sqlite-projection.js';
import { ProjectionRunner } from '../../src/eventsourcing/projection-runner.js';
import type { Decider } from '../../src/eventsourcing/decider.js';
import { appliedIn, eventually, ledgerFile, ledgerProjection, produceDeposits, readLedger, referenceLedger, versionFile, type Deposit } from './helpers.js';

describe('stream.project() in the topology', () => {
  const p = ledgerProjection('/tmp/unused-ledger.db');

  it('records the topic and serdes of a stream read from a topic', () => {
    const t = app('proj-topo', (b) => b.stream('deposits', { value: serdes.json<Deposit>() }).project(p)).topology();
    assert.equal(t.projections.length, 1);
    assert.equal(t.projections[0]!.topic, 'deposits');
    assert.equal(t.projections[0]!.projection.name, 'ledger');
    assert.equal(t.projections[0]!.valueSerde.name, serdes.json().name);
  });

  it('refuses a computed stream, saying to write it to a topic first', () => {
    assert.throws(
      () => app('proj-topo', (b) => b.stream('deposits', { value: serdes.json<Deposit>() }).filter(() => true).project(p)).topology(),
      (err: unknown) => err instanceof TopologyError && /write it to a topic with \.to\('<topic>'\) and project b\.stream\('<topic>'\)/.test(err.message),
    );
  });

  it('refuses two projections with one name', () => {
    assert.throws(
      () =>
        app('proj-topo', (b) => {
          const s = b.stream('deposits', { value: serdes.json<Deposit>() });
          s.project(p);
          s.project(p);
        }).topology(),
      /projection name 'ledger' is used twice/,
    );
  });

  it('projects the events of an event-sourced aggregate from its events topic', () => {
    const decider: Decider<{ n: number }, { n: number }, number> = { initialState: () => 0, decide: (c) => [{ n: c.n }], evolve: (s, e) => s + e.n };
    const t = app('proj-es', (b) => {
      b.eventSourced('counter', { commands: 'counter-commands', events: 'counter-events', decider }).project(p as never);
    }).topology();
    assert.equal(t.projections[0]!.topic, 'counter-events');
  });

  it('checks its options when the projection is made', () => {
    assert.throws(() => sqliteProjection({ name: 'bad name!', file: 'x.db', setup() {}, apply() {} }), /'name' must be/);
    assert.throws(() => sqliteProjection({ name: 'ok', file: 'x.db', setup() {}, apply: 3 as never }), /'apply' must be a function/);
  });
});

describe('SQLite projection on the embedded log', () => {
  let dir: string;
  let log: Log;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-proj-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });

  after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies every event once, in one transaction with the offsets, and resumes from the stored offsets', async () => {
    await log.admin.createTopics([{ name: 'deposits', partitions: 3 }]);
    await produceDeposits(log, 0, 2000);
    const file = ledgerFile(dir);
    const ledgerApp = app('ledger-app', (b) => b.stream('deposits', { value: serdes.json<Deposit>() }).project(ledgerProjection(file)));

    const run = async (expected: number) => {
      const runtime = new StreamsRuntime(ledgerApp, { log, logger: silentLogger, stateDir: join(dir, 'state') });
      await runtime.start();
      await eventually(`${expected} events in the read model`, () => appliedIn(versionFile(file, 1)) === expected);
      await runtime.close();
      assert.equal(runtime.state, 'stopped');
    };
    await run(2000);
    await produceDeposits(log, 2000, 2500);
    await run(2500);

    const state = readLedger(versionFile(file, 1));
    assert.equal(state.duplicates, 0);
    assert.deepEqual(state.balances, referenceLedger(0, 2500));
    // Kafka's (here the embedded log's) group offsets are written after the fact, for lag tools.
    const committed = await log.admin.committedOffsets('ledger-app-projection-ledger', ['deposits']);
    assert.equal(committed.reduce((n, c) => n + c.offset, 0), 2500);
  });

  it('fails a stale writer instead of letting it overwrite the offsets', async () => {
    await log.admin.createTopics([{ name: 'stale-deposits', partitions: 1 }]);
    await produceDeposits(log, 0, 10, 'stale-deposits');
    const p = ledgerProjection(join(dir, 'stale', 'ledger.db'));
    const store = await p.openStore();
    const v = await store.ensureLive(1);
    const a = await store.openWriter(v);
    const b = await store.openWriter(v);
    await a.initOffsets('stale-deposits', new Map([[0, 0]]));
    const batch = (from: number, to: number) => ({
      records: [],
      offsets: [{ topic: 'stale-deposits', partition: 0, from, to }],
      requireLive: true,
    });
    assert.deepEqual(await a.commit(batch(0, 5)), { kind: 'committed' });
    // b read offset 0 before a committed: its write must fail, not move the offset back.
    assert.deepEqual(await b.commit(batch(0, 3)), { kind: 'stale', topic: 'stale-deposits', partition: 0, stored: 5, expected: 0 });
    assert.equal((await b.readOffsets('stale-deposits')).get(0), 5);
    await a.close();
    await b.close();
    await store.close();
  });

  it("stops the application with an error naming projection, topic, partition and offset when apply throws ('fail')", async () => {
    await log.admin.createTopics([{ name: 'poison', partitions: 2 }]);
    await produceDeposits(log, 0, 100, 'poison');
    const poisonSeq = 42;
    const p = sqliteProjection<string, Deposit>({
      name: 'poisoned',
      file: join(dir, 'poison', 'p.db'),
      setup: (db) => db.exec('CREATE TABLE seen (seq INTEGER PRIMARY KEY)'),
      apply: (db, d) => {
        if (d.seq === poisonSeq) throw new Error('cannot apply 42');
        db.prepare('INSERT INTO seen VALUES (?)').run(d.seq);
      },
    });
    const runtime = new StreamsRuntime(app('poison-app', (b) => b.stream('poison', { value: serdes.json<Deposit>() }).project(p)), { log, logger: silentLogger, stateDir: join(dir, 'state') });
    await runtime.start();
    await assert.rejects(runtime.stopped, (err: unknown) => {
      assert.ok(err instanceof ProcessingError);
      assert.match(err.message, /projection 'poisoned' failed to apply the record at topic 'poison', partition \d, offset \d+: cannot apply 42/);
      return true;
    });
    assert.equal(runtime.state, 'failed');
  });

  it("skips a record whose apply throws under errors.processing = 'continue', keeping the rest", async () => {
    const p = sqliteProjection<string, Deposit>({
      name: 'skipping',
      file: join(dir, 'skip', 'p.db'),
      setup: (db) => db.exec('CREATE TABLE seen (seq INTEGER PRIMARY KEY)'),
      apply: (db, d) => {
        db.prepare('INSERT INTO seen VALUES (?)').run(d.seq);
        if (d.seq === 42) throw new Error('cannot apply 42');
      },
    });
    const skipApp = app('skip-app', (b) => b.stream('poison', { value: serdes.json<Deposit>() }).project(p), { errors: { processing: 'continue' } });
    const runtime = new StreamsRuntime(skipApp, { log, logger: silentLogger, stateDir: join(dir, 'state') });
    await runtime.start();
    const Database = (await import('better-sqlite3')).default;
    const count = () => {
      const db = new Database(join(dir, 'skip', 'p.v1.db'), { readonly: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n, SUM(seq = 42) AS poisoned FROM seen').get() as { n: number; poisoned: number });
      } finally {
        db.close();
      }
    };
    await eventually('99 records applied', () => existsSync(join(dir, 'skip', 'p.v1.db')) && count().n === 99);
    await runtime.close();
    // The row the failing apply wrote was rolled back with it.
    assert.deepEqual(count(), { n: 99, poisoned: 0 });
  });

  it('a runner moves to a swapped-in version and continues at its offsets', async () => {
    await log.admin.createTopics([{ name: 'swap-deposits', partitions: 2 }]);
    await produceDeposits(log, 0, 300, 'swap-deposits');
    const file = join(dir, 'swap', 'ledger.db');
    const p = ledgerProjection(file);
    const runner = new ProjectionRunner({
      applicationId: 'swap-app',
      projection: p,
      source: { topic: 'swap-deposits', keySerde: serdes.string(), valueSerde: serdes.json() },
      log,
      logger: silentLogger,
      errors: { deserialization: 'fail', processing: 'fail' },
    });
    await runner.start();
    await eventually('300 applied', () => appliedIn(versionFile(file, 1)) === 300);
    // A version 2 that has applied nothing of partition 1 and the first 100 of partition 0... is
    // swapped in by hand: the runner must continue in version 2 from version 2's own offsets.
    const store = await p.openStore();
    const v2 = await store.createVersion(1, null);
    const w = await store.openWriter(v2);
    await w.initOffsets('swap-deposits', new Map([[0, 0], [1, 0]]));
    await w.close();
    assert.equal(await store.swap(1, v2, 'swap-deposits', async () => true), true);
    await eventually('version 2 filled', () => appliedIn(versionFile(file, 2)) === 300);
    await produceDeposits(log, 300, 350, 'swap-deposits');
    await eventually('version 2 follows', () => appliedIn(versionFile(file, 2)) === 350);
    assert.equal(runner.stats().version, 2);
    await runner.close();
    assert.deepEqual(readLedger(versionFile(file, 2)).balances, referenceLedger(0, 350));
    assert.equal(readLedger(versionFile(file, 1)).applied, 300);
    await store.close();
  });
});
