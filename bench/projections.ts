/**
 * Throughput of projections: the live runner's apply rate on SQLite and PostgreSQL, and a
 * rebuild's rate, over the embedded log.
 *
 *   node --import tsx bench/projections.ts [--events 200000] [--pg-events 20000] [--partitions 4] [--pg postgres://postgres@127.0.0.1:5432/test]
 *
 * 1. produces N deposit events (JSON, ~30 bytes, 10k accounts) over P partitions;
 * 2. live apply: a ProjectionRunner applies them into a read model with an upsert per event
 *    (balance per account), one transaction per poll of 1000 with the offsets' compare-and-set;
 *    timed from start() to the last offset stored;
 * 3. rebuild: rebuildProjection() fills version 2 from offset 0 up to the live offsets and swaps
 *    (batches of 5000), timed end to end;
 * the same for PostgreSQL with fewer events (one round trip per statement). Pass --pg '' to skip it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { postgresProjection, serdes, sqliteProjection, type Projection } from '../src/index.js';
import { ProjectionRunner } from '../src/eventsourcing/projection-runner.js';
import { rebuildProjection } from '../src/eventsourcing/rebuild.js';
import { openEmbeddedLog } from '../src/log/embedded/index.js';
import type { Log, OutgoingRecord } from '../src/log/types.js';
import { silentLogger } from '../src/runtime/logger.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    'pg-events': { type: 'string', default: '20000' },
    partitions: { type: 'string', default: '4' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const partitions = Number(values.partitions);

interface Deposit {
  account: string;
  amount: number;
}

const errors = { deserialization: 'fail', processing: 'fail' } as const;

async function produce(log: Log, topic: string, n: number): Promise<void> {
  await log.admin.createTopics([{ name: topic, partitions }]);
  const producer = log.producer();
  let batch: OutgoingRecord[] = [];
  for (let i = 0; i < n; i++) {
    const d: Deposit = { account: `acct-${(i * 7919) % 10_000}`, amount: (i % 97) + 1 };
    batch.push({ topic, key: Buffer.from(d.account), value: Buffer.from(JSON.stringify(d)), timestamp: 1_700_000_000_000 + i, headers: {} });
    if (batch.length === 10_000) {
      await producer.send(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await producer.send(batch);
  await producer.close();
}

async function measure(label: string, log: Log, topic: string, n: number, projection: Projection<string, Deposit>): Promise<{ apply: number; rebuild: number }> {
  const source = { topic, keySerde: serdes.string(), valueSerde: serdes.json() };
  const runner = new ProjectionRunner({ applicationId: 'bench', projection, source, log, logger: silentLogger, errors, pollMs: 20 });
  const t0 = performance.now();
  await runner.start();
  while ((await runner.lag()) > 0 || runner.stats().applied < n) await new Promise((r) => setTimeout(r, 20));
  const applySeconds = (performance.now() - t0) / 1000;
  await runner.close();
  const t1 = performance.now();
  const result = await rebuildProjection({ projection, source, log, logger: silentLogger, errors, dropGraceMs: 0 });
  const rebuildSeconds = (performance.now() - t1) / 1000;
  if (result.applied !== n) throw new Error(`${label}: the rebuild applied ${result.applied} of ${n}`);
  const apply = n / applySeconds;
  const rebuild = n / rebuildSeconds;
  console.log(`${label}: ${n} events; live apply ${Math.round(apply).toLocaleString('en-US')} events/s (${applySeconds.toFixed(2)} s); rebuild ${Math.round(rebuild).toLocaleString('en-US')} events/s (${rebuildSeconds.toFixed(2)} s)`);
  return { apply, rebuild };
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-proj-'));
const log = openEmbeddedLog({ path: join(dir, 'log.db') });
try {
  const n = Number(values.events);
  await produce(log, 'deposits', n);
  const sqlite = sqliteProjection<string, Deposit>({
    name: 'balances',
    file: join(dir, 'balances.db'),
    setup: (db) => db.exec('CREATE TABLE balance (account TEXT PRIMARY KEY, amount INTEGER NOT NULL)'),
    apply: (db, d) => {
      upsert ??= db.prepare('INSERT INTO balance VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET amount = amount + excluded.amount');
      // A prepared statement belongs to one connection (one version): re-prepare after a swap.
      if (upsert.database !== db) upsert = db.prepare('INSERT INTO balance VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET amount = amount + excluded.amount');
      upsert.run(d.account, d.amount);
    },
  });
  let upsert: import('better-sqlite3').Statement | undefined;
  await measure('sqlite', log, 'deposits', n, sqlite);

  if (values.pg) {
    const pn = Number(values['pg-events']);
    await produce(log, 'pg-deposits', pn);
    const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
    const postgres = postgresProjection<string, Deposit>({
      name: 'balances',
      connectionString: values.pg,
      schema,
      catalogSchema: `${schema}_cat`,
      setup: async (db) => void (await db.query('CREATE TABLE balance (account TEXT PRIMARY KEY, amount BIGINT NOT NULL)')),
      apply: async (db, d) => void (await db.query('INSERT INTO balance VALUES ($1, $2) ON CONFLICT (account) DO UPDATE SET amount = balance.amount + excluded.amount', [d.account, d.amount])),
    });
    try {
      await measure('postgres', log, 'pg-deposits', pn, postgres);
    } finally {
      const client = new pg.Client({ connectionString: values.pg });
      await client.connect();
      for (const s of [`${schema}_v1`, `${schema}_v2`, `${schema}_cat`]) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await client.end();
    }
  }
} finally {
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}
