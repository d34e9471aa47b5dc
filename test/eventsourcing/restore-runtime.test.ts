/**
 * The aggregate store restored from the events topic, on the real runtime and embedded log:
 * a clean restart restores nothing, a lost state dir is rebuilt by folding every event, a
 * lagging state dir folds only the tail, and in every case the store equals the fold of the
 * events topic and versions continue. Events land in their command's partition even when the
 * commands were not partitioned by key hash.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { EVENT_SOURCING_HEADERS, TopicError, type AggregateSnapshot, type BackendKind, type ReadOnlyKeyValueStore } from '../../src/index.js';
import { app } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { ConsumedRecord, Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { accounts, type Account, type AccountCommand, type AccountEvent } from '../../topologies/bank-accounts.js';
import bankAccounts from '../../topologies/bank-accounts.js';

const PARTITIONS = 3;
const ids = ['a0', 'a1', 'a2', 'a3', 'a4'];
/** Commands of account i go to partition i % 3: not what the key hash would choose. */
const partitionOf = (id: string) => Number(id.slice(1)) % PARTITIONS;

/** A deterministic batch: every account gets deposits and withdrawals, some beyond its balance. */
function commands(round: number): [string, AccountCommand][] {
  const out: [string, AccountCommand][] = [];
  for (let i = 0; i < 40; i++) {
    const id = ids[(i * 7 + round) % ids.length]!;
    const amount = 100 * (1 + ((i * 13 + round * 5) % 9));
    out.push([id, i % 3 === 2 ? { type: 'withdraw', amount } : { type: 'deposit', amount }]);
  }
  return out;
}

const withBackend = (backend: BackendKind) => (backend === 'sqlite' ? bankAccounts : app('bank-accounts', (b) => void b.eventSourced('accounts', { commands: 'account-commands', events: 'account-events', rejections: 'account-rejections', decider: accounts }), { stateBackend: backend }));

describe('aggregate store restored from its events topic (embedded log)', () => {
  let dir: string;
  let log: Log;
  let timestamp = 0;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-decider-'));
    // The bank topology's projections write their read models here, not under the repository.
    process.env['BANK_READ_MODELS'] = join(dir, 'read-models');
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
    await log.admin.createTopics([{ name: 'account-commands', partitions: PARTITIONS }]);
    timestamp = 0;
  });
  afterEach(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function send(batch: [string, AccountCommand][]): Promise<void> {
    const producer = log.producer();
    await producer.send(
      batch.map(([id, c]) => ({ topic: 'account-commands', partition: partitionOf(id), key: Buffer.from(id), value: Buffer.from(JSON.stringify(c)), timestamp: timestamp++, headers: {} })),
    );
    await producer.close();
  }

  async function readAll(topic: string): Promise<ConsumedRecord[]> {
    const parts = await log.admin.offsets(topic);
    const want = parts.reduce((n, p) => n + p.high, 0);
    const consumer = log.consumer({ maxPollRecords: 5000 });
    consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
    const out: ConsumedRecord[] = [];
    for (let i = 0; i < 1000 && out.length < want; i++) out.push(...(await consumer.poll(50)));
    await consumer.close();
    return out;
  }

  /** The reference: each account's events (in offset order) folded with evolve, and their count. */
  async function foldOfEvents(): Promise<Map<string, AggregateSnapshot<Account>>> {
    const out = new Map<string, AggregateSnapshot<Account>>();
    const events = (await readAll('account-events')).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    for (const r of events) {
      const id = r.key!.toString();
      assert.equal(r.partition, partitionOf(id), `event of ${id} is in its command's partition`);
      const before = out.get(id) ?? { version: 0, state: accounts.initialState() };
      const version = before.version + 1;
      assert.equal(r.headers[EVENT_SOURCING_HEADERS.aggregateVersion]?.toString(), String(version), `version header of ${id}@${r.offset}`);
      out.set(id, { version, state: accounts.evolve(before.state, JSON.parse(r.value!.toString()) as AccountEvent) });
    }
    return out;
  }

  /** Runs until idle; returns the runtime's stats and the aggregates it holds. */
  async function run(backend: BackendKind = 'sqlite'): Promise<{ restored: number; held: Map<string, AggregateSnapshot<Account>> }> {
    const runtime = new StreamsRuntime(withBackend(backend), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    const store = runtime.store<ReadOnlyKeyValueStore<string, AggregateSnapshot<Account>>>('accounts');
    const held = new Map([...store.all()].map((e) => [e.key, e.value] as const));
    const { restored } = runtime.stats();
    await runtime.close();
    return { restored, held };
  }

  const sorted = <V>(m: Map<string, V>) => new Map([...m].sort(([a], [b]) => a.localeCompare(b)));

  it('a clean restart restores nothing; a lost state dir is rebuilt from every event; versions continue', async () => {
    await send(ids.map((id) => [id, { type: 'open', owner: id }]));
    await send(commands(1));
    const first = await run();
    assert.equal(first.restored, 0);
    const afterFirst = await foldOfEvents();
    assert.equal(afterFirst.size, ids.length);
    assert.deepEqual(sorted(first.held), sorted(afterFirst), 'store = fold of the events topic');
    const rejected = (await readAll('account-rejections')).length;
    assert.ok(rejected > 0, 'some withdrawals were refused');

    await send(commands(2));
    const kept = await run();
    assert.equal(kept.restored, 0, 'the local checkpoint is current: nothing to restore');
    const afterKept = await foldOfEvents();
    assert.deepEqual(sorted(kept.held), sorted(afterKept));
    assert.ok([...afterKept].some(([id, a]) => a.version > afterFirst.get(id)!.version), 'versions went on from the first run');

    rmSync(join(dir, 'state'), { recursive: true });
    await send(commands(3));
    const rebuilt = await run();
    const eventsBefore = [...afterKept.values()].reduce((n, a) => n + a.version, 0);
    assert.equal(rebuilt.restored, eventsBefore, 'every event was folded back in');
    const afterRebuilt = await foldOfEvents();
    assert.deepEqual(sorted(rebuilt.held), sorted(afterRebuilt), 'rebuilt state decided the new commands like the old state would have');
    for (const a of afterRebuilt.values()) assert.ok(a.state.balance >= 0);
  });

  it('a lagging state dir folds only the tail of the events topic into what it holds', async () => {
    await send(ids.map((id) => [id, { type: 'open', owner: id }]));
    await send(commands(1));
    await run();
    cpSync(join(dir, 'state'), join(dir, 'state-old'), { recursive: true });
    await send(commands(2));
    await run();
    const total = [...(await foldOfEvents()).values()].reduce((n, a) => n + a.version, 0);
    rmSync(join(dir, 'state'), { recursive: true });
    cpSync(join(dir, 'state-old'), join(dir, 'state'), { recursive: true });
    await send(commands(3));
    const lagging = await run();
    assert.ok(lagging.restored > 0 && lagging.restored < total, `restored only the tail: ${lagging.restored} of ${total}`);
    assert.deepEqual(sorted(lagging.held), sorted(await foldOfEvents()));
  });

  it('the memory backend rebuilds the aggregates from the events at every start', async () => {
    await send(ids.map((id) => [id, { type: 'open', owner: id }]));
    await send(commands(1));
    await run('memory');
    await send(commands(2));
    const second = await run('memory');
    assert.ok(second.restored > 0);
    assert.deepEqual(sorted(second.held), sorted(await foldOfEvents()));
  });

  it('refuses an events topic with another partition count than the commands topic', async () => {
    await log.admin.createTopics([{ name: 'account-events', partitions: 2 }]);
    const runtime = new StreamsRuntime(bankAccounts, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await assert.rejects(runtime.start(), (err: unknown) => err instanceof TopicError && /'account-commands' \(3 partitions\), 'account-events' \(2 partitions\)/.test(err.message));
  });
});
