/**
 * Properties of topologies/bank-accounts.ts for random command sequences over several accounts,
 * through testTopology: no balance ever goes negative; the events topic, folded by a reference
 * function written here (not the decider's evolve), equals what the aggregate store holds; every
 * refused withdrawal had insufficient funds (or another stated, true reason) at that point; and
 * an expected version is refused exactly when it is not the account's version.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { EVENT_SOURCING_HEADERS, testTopology, type AggregateSnapshot, type KeyValueStore, type Projection, type RejectedCommand } from '../../src/index.js';
import type { TestRecord } from '../../src/testing/test-records.js';
import bankAccounts, { balancesProjection, statementProjection, type Account, type AccountCommand, type AccountEvent } from '../../topologies/bank-accounts.js';

interface Ref {
  open: boolean;
  owner: string | null;
  balance: number;
  events: number;
}

/** The reference fold of one account's events. */
function applyRef(ref: Ref, e: AccountEvent): Ref {
  if (e.type === 'opened') return { open: true, owner: e.owner, balance: 0, events: ref.events + 1 };
  return { ...ref, balance: ref.balance + (e.type === 'deposited' ? e.amount : -e.amount), events: ref.events + 1 };
}

interface StatementLine {
  version: number;
  type: string;
  amount: number;
  balance: number;
  correlationId: string | null;
}

/**
 * The reference fold of the whole events topic into what the two read models must hold:
 * balances per account, and each account's statement lines.
 */
function referenceReadModels(events: readonly TestRecord<string, AccountEvent>[]): { balances: Map<string, { owner: string; balance: number }>; statements: Map<string, StatementLine[]> } {
  const balances = new Map<string, { owner: string; balance: number }>();
  const statements = new Map<string, StatementLine[]>();
  for (const { key, value: e, headers } of events) {
    const lines = statements.get(key) ?? [];
    const before = lines.at(-1)?.balance ?? 0;
    const amount = e.type === 'opened' ? 0 : e.amount;
    const balance = e.type === 'withdrawn' ? before - amount : before + amount;
    lines.push({ version: lines.length + 1, type: e.type, amount, balance, correlationId: headers['correlation-id']?.toString() ?? null });
    statements.set(key, lines);
    if (e.type === 'opened') balances.set(key, { owner: e.owner, balance: 0 });
    else balances.get(key)!.balance = balance;
  }
  return { balances, statements };
}

/** Applies the events, in order, to a fresh copy of `projection` through its real store and returns the store to query. */
async function projectEvents(projection: Projection<string, AccountEvent>, events: readonly TestRecord<string, AccountEvent>[]) {
  const store = await projection.openStore();
  const live = await store.ensureLive(projection.version);
  const writer = await store.openWriter(live);
  await writer.initOffsets('account-events', new Map([[0, 0]]));
  if (events.length > 0) {
    const records = events.map((e, offset) => ({
      value: e.value,
      meta: { topic: 'account-events', partition: 0, offset, timestamp: e.timestamp, key: e.key, headers: e.headers, replaying: false, version: live },
    }));
    const outcome = await writer.commit({ records, offsets: [{ topic: 'account-events', partition: 0, from: 0, to: events.length }], requireLive: true });
    assert.equal(outcome.kind, 'committed');
  }
  await writer.close();
  return store;
}

const ids = ['acc-1', 'acc-2', 'acc-3', 'acc-4'];
const amount = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 2000 }) }, { weight: 1, arbitrary: fc.integer({ min: -10, max: 0 }) });
const expectedVersion = fc.option(fc.integer({ min: 0, max: 6 }), { freq: 6, nil: undefined });
const command: fc.Arbitrary<[string, AccountCommand]> = fc.tuple(
  fc.constantFrom(...ids),
  fc.oneof(
    { weight: 1, arbitrary: fc.record({ type: fc.constant('open' as const), owner: fc.constantFrom('ann', 'bob') }) },
    { weight: 4, arbitrary: fc.record({ type: fc.constant('deposit' as const), amount }) },
    { weight: 5, arbitrary: fc.record({ type: fc.constant('withdraw' as const), amount }) },
  ),
  expectedVersion,
).map(([id, c, v]) => [id, v === undefined ? c : { ...c, expectedVersion: v }]);

describe('bank accounts: properties over random command sequences', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bank-property-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let run = 0;

  it('balances stay non-negative, the store and both projections are the fold of the events, and every rejection was deserved', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 80 }), async (cmds) => {
        const t = testTopology(bankAccounts);
        const input = t.input<string, AccountCommand>('account-commands');
        const eventsOut = t.output<string, AccountEvent>('account-events');
        const rejectionsOut = t.output<string, RejectedCommand<AccountCommand>>('account-rejections');
        const refs = new Map<string, Ref>();
        const topic: TestRecord<string, AccountEvent>[] = [];
        cmds.forEach(([id, c], i) => {
          const before = refs.get(id) ?? { open: false, owner: null, balance: 0, events: 0 };
          input.pipe(id, c, { headers: { 'correlation-id': `c${i}` } });
          const events = eventsOut.readAll();
          topic.push(...(events as TestRecord<string, AccountEvent>[]));
          const rejections = rejectionsOut.readAll();
          assert.equal(events.length + rejections.length, 1, 'each command gives one event or one rejection');
          let ref = before;
          for (const e of events) {
            assert.equal(e.key, id);
            assert.equal(e.headers['correlation-id']?.toString(), `c${i}`);
            ref = applyRef(ref, e.value!);
            assert.equal(e.headers[EVENT_SOURCING_HEADERS.aggregateVersion]?.toString(), String(ref.events));
            assert.ok(ref.balance >= 0, `balance of ${id} went negative: ${ref.balance}`);
          }
          refs.set(id, ref);
          const versionConflict = c.expectedVersion !== undefined && c.expectedVersion !== before.events;
          if (rejections.length === 0) {
            assert.ok(!versionConflict, `command ${i} expected version ${c.expectedVersion} but ${id} was at ${before.events}, and it was accepted`);
            return;
          }
          const r = rejections[0]!;
          const rejection = r.value!;
          assert.equal(r.key, id);
          assert.equal(r.headers['correlation-id']?.toString(), `c${i}`);
          assert.equal(rejection.version, before.events);
          assert.deepEqual(rejection.command, { ...c }); // (fc.record makes null-prototype objects)
          switch (rejection.rejected) {
            case 'version-conflict':
              assert.ok(versionConflict);
              break;
            case 'insufficient-funds':
              assert.ok(c.type === 'withdraw' && before.open && c.amount > 0 && c.amount > before.balance, `withdrawal ${i} of ${JSON.stringify(c)} refused with balance ${before.balance}`);
              break;
            case 'account-not-open':
              assert.ok(c.type !== 'open' && !before.open);
              break;
            case 'already-open':
              assert.ok(c.type === 'open' && before.open);
              break;
            case 'invalid-amount':
              assert.ok(c.type !== 'open' && c.amount <= 0);
              break;
            default:
              assert.fail(`unexpected rejection ${rejection.rejected}`);
          }
          assert.ok(!versionConflict || rejection.rejected === 'version-conflict', 'a version conflict is reported as such');
        });
        const store = t.store<KeyValueStore<string, AggregateSnapshot<Account>>>('accounts');
        for (const id of ids) {
          const ref = refs.get(id);
          const held = store.get(id);
          if (ref === undefined || ref.events === 0) {
            assert.equal(held, undefined, `${id} has no events and no aggregate`);
            continue;
          }
          assert.deepEqual(held, { version: ref.events, state: { open: ref.open, owner: ref.owner, balance: ref.balance } });
        }
        t.close();

        // Each projection, fed the events topic in order, holds the reference fold of it.
        const expected = referenceReadModels(topic);
        run++;
        const balances = await projectEvents(balancesProjection(join(dir, `balances-${run}.db`)), topic);
        const statement = await projectEvents(statementProjection(join(dir, `statement-${run}.db`)), topic);
        try {
          const rows = (await balances.query('all', {})) as { account: string; owner: string; balance: number }[];
          assert.deepEqual(new Map(rows.map((r) => [r.account, { owner: r.owner, balance: r.balance }])), expected.balances);
          for (const r of rows) assert.ok(r.balance >= 0, `read model balance of ${r.account} is negative`);
          for (const id of ids) {
            const lines = (await statement.query('byAccount', { id })) as (StatementLine & { at: string })[];
            assert.deepEqual(
              lines.map(({ at: _at, ...l }) => l),
              expected.statements.get(id) ?? [],
              `statement of ${id}`,
            );
          }
        } finally {
          await balances.close();
          await statement.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});
