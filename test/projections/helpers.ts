/**
 * Shared by the projection tests: a ledger of deposits (the events), a SQLite projection of it
 * that would show any duplicate or lost event, and the reference fold to compare it with.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Log, OutgoingRecord } from '../../src/log/types.js';
import { sqliteProjection } from '../../src/eventsourcing/sqlite-projection.js';
import type { Projection } from '../../src/eventsourcing/projection.js';

export interface Deposit {
  seq: number;
  amount: number;
}

export const ACCOUNTS = 13;

export function deposit(seq: number): OutgoingRecord {
  const value: Deposit = { seq, amount: (seq % 7) + 1 };
  return { topic: 'deposits', key: Buffer.from(`acct-${seq % ACCOUNTS}`), value: Buffer.from(JSON.stringify(value)), timestamp: 1_700_000_000_000 + seq, headers: {} };
}

/** Produces deposits with seq in [from, to). */
export async function produceDeposits(log: Log, from: number, to: number, topic = 'deposits'): Promise<void> {
  const producer = log.producer();
  for (let start = from; start < to; start += 5000) {
    const batch: OutgoingRecord[] = [];
    for (let seq = start; seq < Math.min(to, start + 5000); seq++) batch.push({ ...deposit(seq), topic });
    await producer.send(batch);
  }
  await producer.close();
}

/**
 * Balances per account, a count of applications per seq (a duplicate shows as times = 2) and
 * totals in one row: a consistent view has sum(balance) = total_amount.
 */
export function ledgerProjection(file: string, options: { name?: string; version?: number; onApply?: (d: Deposit, replaying: boolean) => void } = {}): Projection<string, Deposit> {
  return sqliteProjection<string, Deposit>({
    name: options.name ?? 'ledger',
    file,
    version: options.version,
    replayFromTime: true,
    setup(db) {
      db.exec(`
        CREATE TABLE balance (account TEXT PRIMARY KEY, amount INTEGER NOT NULL, deposits INTEGER NOT NULL);
        CREATE TABLE applied (seq INTEGER PRIMARY KEY, times INTEGER NOT NULL);
        CREATE TABLE totals (id INTEGER PRIMARY KEY CHECK (id = 1), events INTEGER NOT NULL, amount INTEGER NOT NULL);
        INSERT INTO totals VALUES (1, 0, 0);
      `);
    },
    apply(db, d, meta) {
      options.onApply?.(d, meta.replaying);
      db.prepare('INSERT INTO balance VALUES (?, ?, 1) ON CONFLICT (account) DO UPDATE SET amount = amount + excluded.amount, deposits = deposits + 1').run(meta.key, d.amount);
      db.prepare('INSERT INTO applied VALUES (?, 1) ON CONFLICT (seq) DO UPDATE SET times = times + 1').run(d.seq);
      db.prepare('UPDATE totals SET events = events + 1, amount = amount + ? WHERE id = 1').run(d.amount);
    },
    queries: {
      totals: (db) => db.prepare('SELECT events, amount, (SELECT COALESCE(SUM(amount), 0) FROM balance) AS balances FROM totals').get(),
      balance: (db, p) => db.prepare('SELECT account, amount, deposits FROM balance WHERE account = ?').get(p['account'] ?? ''),
    },
  });
}

export interface LedgerState {
  balances: Map<string, { amount: number; deposits: number }>;
  applied: number;
  duplicates: number;
  seqs: Set<number>;
}

/** Reads a SQLite ledger version file. */
export function readLedger(versionFile: string): LedgerState {
  const db = new Database(versionFile, { readonly: true, fileMustExist: true });
  try {
    const balances = new Map<string, { amount: number; deposits: number }>();
    for (const r of db.prepare('SELECT account, amount, deposits FROM balance').all() as { account: string; amount: number; deposits: number }[]) {
      balances.set(r.account, { amount: r.amount, deposits: r.deposits });
    }
    const rows = db.prepare('SELECT seq, times FROM applied').all() as { seq: number; times: number }[];
    return { balances, applied: rows.length, duplicates: rows.filter((r) => r.times !== 1).length, seqs: new Set(rows.map((r) => r.seq)) };
  } finally {
    db.close();
  }
}

/** Events applied in a ledger version file; 0 while it does not exist or is not set up yet. */
export function appliedIn(versionFile: string): number {
  if (!existsSync(versionFile)) return 0;
  try {
    return readLedger(versionFile).applied;
  } catch (err) {
    if (/no such table/.test(String(err))) return 0;
    throw err;
  }
}

/** What the ledger must hold after deposits with seq in [from, to): the reference fold. */
export function referenceLedger(from: number, to: number): Map<string, { amount: number; deposits: number }> {
  const balances = new Map<string, { amount: number; deposits: number }>();
  for (let seq = from; seq < to; seq++) {
    const account = `acct-${seq % ACCOUNTS}`;
    const b = balances.get(account) ?? { amount: 0, deposits: 0 };
    b.amount += (seq % 7) + 1;
    b.deposits += 1;
    balances.set(account, b);
  }
  return balances;
}

export function versionFile(catalog: string, version: number): string {
  return catalog.replace(/\.db$/, `.v${version}.db`);
}

export function ledgerFile(dir: string): string {
  return join(dir, 'read-models', 'ledger.db');
}

/** Polls `check` until it returns true (or throws after `timeoutMs` with `what`). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
