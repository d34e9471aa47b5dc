/**
 * Event sourcing demo: bank accounts as a decider. Commands open an account, deposit and
 * withdraw; a withdrawal beyond the balance is rejected (no overdrafts). Amounts are integer
 * cents. The store 'accounts' holds { version, state } per account id and is restored from the
 * events topic itself. Two read models (CQRS) follow the events, in SQLite files under
 * $BANK_READ_MODELS (default .tributary/read-models, relative to the working directory):
 *
 *   account-commands --> decide --> account-events      (opened, deposited, withdrawn) --> balances, statement
 *                              \--> account-rejections  (with the command's correlation-id header)
 *
 * Walkthrough (embedded log and Kafka): examples/bank/README.md. In short:
 *   tributary topics --create account-commands --partitions 4
 *   node --import tsx examples/bank/generate-commands.ts --count 1000 | tributary produce account-commands
 *   tributary run topologies/bank-accounts.ts --until-idle
 *   tributary serve topologies/bank-accounts.ts --port 18081
 */
import { join } from 'node:path';
import { app, reject, serdes, sqliteProjection, type Decider, type Projection } from 'tributary';

export type AccountCommand =
  | { type: 'open'; owner: string; expectedVersion?: number }
  | { type: 'deposit'; amount: number; expectedVersion?: number }
  | { type: 'withdraw'; amount: number; expectedVersion?: number };

export type AccountEvent = { type: 'opened'; owner: string } | { type: 'deposited'; amount: number } | { type: 'withdrawn'; amount: number };

export interface Account {
  open: boolean;
  owner: string | null;
  balance: number;
}

export type AccountRejection = 'already-open' | 'account-not-open' | 'invalid-amount' | 'insufficient-funds';

export const accounts: Decider<AccountCommand, AccountEvent, Account, AccountRejection> = {
  initialState: () => ({ open: false, owner: null, balance: 0 }),
  decide(command, account) {
    if (command.type === 'open') return account.open ? reject('already-open') : [{ type: 'opened', owner: command.owner }];
    if (!account.open) return reject('account-not-open');
    if (!Number.isSafeInteger(command.amount) || command.amount <= 0) return reject('invalid-amount', { amount: command.amount });
    if (command.type === 'deposit') return [{ type: 'deposited', amount: command.amount }];
    if (command.amount > account.balance) return reject('insufficient-funds', { balance: account.balance, amount: command.amount });
    return [{ type: 'withdrawn', amount: command.amount }];
  },
  evolve(account, event) {
    switch (event.type) {
      case 'opened':
        return { open: true, owner: event.owner, balance: 0 };
      case 'deposited':
        return { ...account, balance: account.balance + event.amount };
      case 'withdrawn':
        return { ...account, balance: account.balance - event.amount };
    }
  },
};

/** Where the read models' catalog files go (read when the topology is built). */
const readModels = () => process.env['BANK_READ_MODELS'] ?? join('.tributary', 'read-models');

/** One row per account: its owner and balance. Queries: all, byId?id=, total. */
export function balancesProjection(file = join(readModels(), 'balances.db')): Projection<string, AccountEvent> {
  return sqliteProjection<string, AccountEvent>({
    name: 'balances',
    file,
    setup: (db) => db.exec('CREATE TABLE balance (account TEXT PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, events INTEGER NOT NULL)'),
    apply(db, e, meta) {
      if (e.type === 'opened') db.prepare('INSERT INTO balance VALUES (?, ?, 0, 1)').run(meta.key, e.owner);
      else db.prepare('UPDATE balance SET balance = balance + ?, events = events + 1 WHERE account = ?').run(e.type === 'deposited' ? e.amount : -e.amount, meta.key);
    },
    queries: {
      all: (db) => db.prepare('SELECT account, owner, balance FROM balance ORDER BY account').all(),
      byId: (db, p) => db.prepare('SELECT account, owner, balance FROM balance WHERE account = ?').get(p['id'] ?? '') ?? null,
      total: (db) => db.prepare('SELECT COUNT(*) AS accounts, COALESCE(SUM(balance), 0) AS balance, COALESCE(MIN(balance), 0) AS lowest FROM balance').get(),
    },
  });
}

/** Every account's movements with the balance after each. Query: byAccount?id=. */
export function statementProjection(file = join(readModels(), 'statement.db')): Projection<string, AccountEvent> {
  return sqliteProjection<string, AccountEvent>({
    name: 'statement',
    file,
    setup: (db) =>
      db.exec(`CREATE TABLE line (account TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, amount INTEGER NOT NULL,
                 balance INTEGER NOT NULL, at TEXT NOT NULL, correlation_id TEXT, PRIMARY KEY (account, version))`),
    apply(db, e, meta) {
      const last = db.prepare('SELECT version, balance FROM line WHERE account = ? ORDER BY version DESC LIMIT 1').get(meta.key) as { version: number; balance: number } | undefined;
      const amount = e.type === 'opened' ? 0 : e.amount;
      const balance = (last?.balance ?? 0) + (e.type === 'withdrawn' ? -amount : amount);
      db.prepare('INSERT INTO line VALUES (?, ?, ?, ?, ?, ?, ?)').run(meta.key, (last?.version ?? 0) + 1, e.type, amount, balance, new Date(meta.timestamp).toISOString(), meta.headers['correlation-id']?.toString() ?? null);
    },
    queries: {
      byAccount: (db, p) => db.prepare('SELECT version, type, amount, balance, at, correlation_id AS correlationId FROM line WHERE account = ? ORDER BY version').all(p['id'] ?? ''),
    },
  });
}

export default app('bank-accounts', (b) => {
  const events = b.eventSourced('accounts', {
    commands: 'account-commands',
    events: 'account-events',
    rejections: 'account-rejections',
    decider: accounts,
    serdes: { key: serdes.string(), command: serdes.json<AccountCommand>(), event: serdes.json<AccountEvent>() },
    expectedVersion: (c) => c.expectedVersion,
  });
  events.project(balancesProjection());
  events.project(statementProjection());
});
