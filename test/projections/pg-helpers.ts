/** The PostgreSQL ledger projection of the tests, against the real server at 127.0.0.1:5432 (database `test`). */
import pg from 'pg';
import { postgresProjection } from '../../src/eventsourcing/postgres-projection.js';
import type { Projection } from '../../src/eventsourcing/projection.js';
import type { Deposit } from './helpers.js';

export const PG_URL = process.env['TRIBUTARY_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A name no other test run uses, for schemas. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export function pgLedgerProjection(schema: string, catalogSchema: string, name = 'ledger'): Projection<string, Deposit> {
  return postgresProjection<string, Deposit>({
    name,
    connectionString: PG_URL,
    schema,
    catalogSchema,
    async setup(db) {
      await db.query('CREATE TABLE balance (account TEXT PRIMARY KEY, amount BIGINT NOT NULL, deposits INT NOT NULL)');
      await db.query('CREATE TABLE applied (seq INT PRIMARY KEY, times INT NOT NULL)');
    },
    async apply(db, d, meta) {
      await db.query('INSERT INTO balance VALUES ($1, $2, 1) ON CONFLICT (account) DO UPDATE SET amount = balance.amount + excluded.amount, deposits = balance.deposits + 1', [meta.key, d.amount]);
      await db.query('INSERT INTO applied VALUES ($1, 1) ON CONFLICT (seq) DO UPDATE SET times = applied.times + 1', [d.seq]);
    },
    queries: {
      totals: async (db) => (await db.query('SELECT COUNT(*)::int AS accounts, COALESCE(SUM(amount), 0)::int AS amount, COALESCE(SUM(deposits), 0)::int AS events FROM balance')).rows[0],
    },
  });
}

export interface PgLedger {
  balances: Map<string, { amount: number; deposits: number }>;
  applied: number;
  duplicates: number;
}

export async function readPgLedger(schema: string): Promise<PgLedger> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const balances = new Map<string, { amount: number; deposits: number }>();
    for (const r of (await client.query(`SELECT account, amount::int AS amount, deposits FROM "${schema}".balance`)).rows) balances.set(r.account, { amount: r.amount, deposits: r.deposits });
    const { rows } = await client.query(`SELECT COUNT(*)::int AS n, COUNT(*) FILTER (WHERE times <> 1)::int AS dup FROM "${schema}".applied`);
    return { balances, applied: rows[0].n, duplicates: rows[0].dup };
  } finally {
    await client.end();
  }
}

export async function schemaExists(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount === 1;
  } finally {
    await client.end();
  }
}

/** Drops every schema whose name starts with one of the prefixes. */
export async function dropSchemas(...prefixes: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT schema_name FROM information_schema.schemata');
    for (const r of rows) if (prefixes.some((p) => (r.schema_name as string).startsWith(p))) await client.query(`DROP SCHEMA "${r.schema_name}" CASCADE`);
  } finally {
    await client.end();
  }
}
