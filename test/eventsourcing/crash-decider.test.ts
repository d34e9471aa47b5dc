/**
 * kill -9 `tributary run topologies/bank-accounts.ts` at random moments and restart it each time
 * (state dir kept), then check the outcome of every command against deciding all commands in
 * order with the decider alone: each command has exactly one outcome (its events, or its
 * rejection), the same one, with consecutive versions. A restart that restored state wrongly, or
 * a commit that split events from state or offsets, would change some later decision.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seededRandom } from '../../examples/prng.js';
import { EVENT_SOURCING_HEADERS, isRejection } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { ConsumedRecord, Log, OutgoingRecord } from '../../src/log/types.js';
import { accounts, type AccountCommand } from '../../topologies/bank-accounts.js';
import { spawnCli, tempDir } from '../helpers/cli.js';

const TOTAL = 40_000;
const ACCOUNTS = 200;
const KILLS = 4;

async function count(log: Log, topic: string): Promise<number> {
  if (!(await log.admin.listTopics()).includes(topic)) return 0;
  return (await log.admin.offsets(topic)).reduce((n, p) => n + p.high, 0);
}

async function readAll(log: Log, topic: string): Promise<ConsumedRecord[]> {
  if (!(await log.admin.listTopics()).includes(topic)) return [];
  const parts = await log.admin.offsets(topic);
  const want = parts.reduce((n, p) => n + p.high, 0);
  const consumer = log.consumer({ maxPollRecords: 10_000 });
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  const out: ConsumedRecord[] = [];
  for (let i = 0; i < 10_000 && out.length < want; i++) out.push(...(await consumer.poll(100)));
  await consumer.close();
  return out;
}

describe('crash test: kill -9 during `tributary run topologies/bank-accounts.ts`', () => {
  const dir = tempDir('tributary-crash-decider-');
  let log: Log;

  before(async () => {
    log = openEmbeddedLog({ path: join(dir.path, 'log.db') });
    await log.admin.createTopics([{ name: 'account-commands', partitions: 3 }]);
    const random = seededRandom(11);
    const opened = new Set<string>();
    const batch: OutgoingRecord[] = [];
    for (let seq = 0; seq < TOTAL; seq++) {
      const id = `acc-${Math.floor(random() * ACCOUNTS)}`;
      let c: AccountCommand;
      if (!opened.has(id)) {
        opened.add(id);
        c = { type: 'open', owner: id };
      } else {
        // Withdrawals about as large as deposits: roughly half of them depend on the exact balance.
        c = random() < 0.5 ? { type: 'deposit', amount: 1 + Math.floor(random() * 5000) } : { type: 'withdraw', amount: 1 + Math.floor(random() * 9000) };
      }
      batch.push({ topic: 'account-commands', key: Buffer.from(id), value: Buffer.from(JSON.stringify(c)), timestamp: seq, headers: { 'correlation-id': Buffer.from(`c${seq}`) } });
    }
    const producer = log.producer();
    await producer.send(batch);
    await producer.close();
  });

  after(async () => {
    await log.close();
    dir.remove();
  });

  it(`every command decided exactly once, as in order, across ${KILLS} kill -9s`, async () => {
    const args = ['run', 'test/fixtures/topologies/bank-decider-only.ts', '--state-dir', dir.path, '--no-typecheck', '--log-level', 'info'];
    // The bank topology's projections write their read models here, not under the repository.
    const env = { BANK_READ_MODELS: join(dir.path, 'read-models') };
    const outcomes = async () => (await count(log, 'account-events')) + (await count(log, 'account-rejections'));
    const killedAt: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const before = await outcomes();
      const target = before + Math.floor(((TOTAL - before) / (KILLS + 1 - i)) * (0.3 + Math.random() * 0.7));
      const child = spawnCli(args, { env, timeoutMs: 120_000 });
      const deadline = Date.now() + 60_000;
      while ((await outcomes()) < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGKILL');
      const result = await child.exited;
      assert.equal(result.signal, 'SIGKILL', `run ${i} exited by itself (${result.code}): ${result.stderr}`);
      killedAt.push(await outcomes());
    }
    const final = spawnCli([...args, '--until-idle', '--idle-ms', '300'], { env, timeoutMs: 120_000 });
    const done = await final.exited;
    assert.equal(done.code, 0, done.stderr);
    assert.ok(killedAt.some((n) => n > 0 && n < TOTAL), `kills landed mid-run: ${killedAt.join(', ')}`);
    console.log(`outcomes written when killed: ${killedAt.join(', ')} of ${TOTAL}`);

    // The oracle: each partition's commands decided in offset order by the decider alone.
    const expected = new Map<string, string>();
    const states = new Map<string, { version: number; state: ReturnType<typeof accounts.initialState> }>();
    const commands = (await readAll(log, 'account-commands')).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    for (const r of commands) {
      const id = r.key!.toString();
      const agg = states.get(id) ?? { version: 0, state: accounts.initialState() };
      const decision = accounts.decide(JSON.parse(r.value!.toString()) as AccountCommand, agg.state);
      const correlation = r.headers['correlation-id']!.toString();
      if (isRejection(decision)) {
        expected.set(correlation, `rejected ${decision.rejected}`);
        continue;
      }
      let { version, state } = agg;
      const parts: string[] = [];
      for (const e of decision) {
        state = accounts.evolve(state, e);
        parts.push(`${++version}:${JSON.stringify(e)}`);
      }
      states.set(id, { version, state });
      expected.set(correlation, parts.join(' '));
    }

    const actual = new Map<string, string>();
    const add = (correlation: string, text: string) => actual.set(correlation, actual.has(correlation) ? `${actual.get(correlation)} ${text}` : text);
    for (const r of (await readAll(log, 'account-events')).sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      add(r.headers['correlation-id']!.toString(), `${r.headers[EVENT_SOURCING_HEADERS.aggregateVersion]!.toString()}:${r.value!.toString()}`);
    }
    for (const r of await readAll(log, 'account-rejections')) {
      add(r.headers['correlation-id']!.toString(), `rejected ${(JSON.parse(r.value!.toString()) as { rejected: string }).rejected}`);
    }
    assert.equal(actual.size, TOTAL, 'every command has an outcome');
    let rejected = 0;
    for (const [correlation, want] of expected) {
      assert.equal(actual.get(correlation), want, `outcome of command ${correlation}`);
      if (want.startsWith('rejected')) rejected++;
    }
    assert.ok(rejected > TOTAL / 10, `enough decisions depended on the balance (${rejected} rejected)`);
  });
});
