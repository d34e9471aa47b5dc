/**
 * kill -9 a stateful `tributary run` (count by key) at random moments, restart it each time,
 * and check: every running count per key goes 1, 2, 3, ... with no gap and no repeat (each
 * input counted exactly once), the final counts are exact, and each restart restored only the
 * changelog tail past its local checkpoint, far less than the whole changelog.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log, OutgoingRecord } from '../../src/log/types.js';
import { spawnCli, tempDir } from '../helpers/cli.js';

const TOTAL = 60_000;
const USERS = 500;
const KILLS = 5;
const fixture = 'test/fixtures/topologies/crash-count.ts';

async function count(log: Log, topic: string): Promise<number> {
  if (!(await log.admin.listTopics()).includes(topic)) return 0;
  return (await log.admin.offsets(topic)).reduce((n, p) => n + p.high, 0);
}

function restoredIn(stderr: string): number {
  let n = 0;
  for (const m of stderr.matchAll(/restored (\d+) record\(s\)/g)) n += Number(m[1]);
  return n;
}

describe('crash test: kill -9 during a stateful `tributary run` (count by key)', () => {
  const dir = tempDir('tributary-crash-state-');
  let log: Log;

  before(async () => {
    log = openEmbeddedLog({ path: join(dir.path, 'log.db') });
    await log.admin.createTopics([{ name: 'events', partitions: 4 }]);
    const producer = log.producer();
    for (let start = 0; start < TOTAL; start += 5000) {
      const batch: OutgoingRecord[] = [];
      for (let seq = start; seq < start + 5000; seq++) {
        const value = { user: `u${(seq * 7919) % USERS}`, seq };
        batch.push({ topic: 'events', key: Buffer.from(`k${seq % 97}`), value: Buffer.from(JSON.stringify(value)), timestamp: seq, headers: {} });
      }
      await producer.send(batch);
    }
    await producer.close();
  });

  after(async () => {
    await log.close();
    dir.remove();
  });

  it(`counts every record exactly once across ${KILLS} kill -9s, restoring only changelog tails`, async () => {
    const args = ['run', fixture, '--state-dir', dir.path, '--skip-typecheck', '--log-level', 'info'];
    const restored: number[] = [];
    const killedAt: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const before = await count(log, 'user-counts');
      const target = before + Math.floor(((TOTAL - before) / (KILLS + 1 - i)) * (0.3 + Math.random() * 0.7));
      const child = spawnCli(args, { timeoutMs: 120_000 });
      const deadline = Date.now() + 60_000;
      let seen = before;
      while (seen < target && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
        seen = await count(log, 'user-counts');
      }
      child.kill('SIGKILL');
      const result = await child.exited;
      assert.equal(result.signal, 'SIGKILL', `run ${i} exited by itself (${result.code}): ${result.stderr}`);
      if (i > 0) restored.push(restoredIn(result.stderr));
      killedAt.push(await count(log, 'user-counts'));
    }
    const final = spawnCli([...args, '--until-idle', '--idle-ms', '300'], { timeoutMs: 120_000 });
    const done = await final.exited;
    assert.equal(done.code, 0, done.stderr);
    restored.push(restoredIn(done.stderr));
    assert.ok(killedAt.every((n) => n < TOTAL), `kills landed mid-run: ${killedAt.join(', ')}`);

    // Running counts per key: exactly 1..n in order (per key all records are in one partition).
    const parts = await log.admin.offsets('user-counts');
    const consumer = log.consumer({ maxPollRecords: 10_000 });
    consumer.assign(parts.map((p) => ({ topic: 'user-counts', partition: p.partition })));
    const last = new Map<string, number>();
    let read = 0;
    for (let i = 0; i < 10_000 && read < TOTAL; i++) {
      for (const r of await consumer.poll(100)) {
        read++;
        const key = r.key!.toString();
        const n = r.value!.readInt32BE(0);
        assert.equal(n, (last.get(key) ?? 0) + 1, `count of ${key} went from ${last.get(key) ?? 0} to ${n}`);
        last.set(key, n);
      }
    }
    await consumer.close();
    assert.equal(read, TOTAL, 'one output per input record');
    const expected = new Map<string, number>();
    for (let seq = 0; seq < TOTAL; seq++) {
      const user = `u${(seq * 7919) % USERS}`;
      expected.set(user, (expected.get(user) ?? 0) + 1);
    }
    assert.deepEqual(new Map([...last].sort()), new Map([...expected].sort()));

    // Each restart replayed only the tail of the changelog, never the whole of it.
    const changelogSize = await count(log, 'crash-count-counts-changelog');
    assert.ok(changelogSize >= USERS, `changelog has ${changelogSize} records`);
    for (const n of restored) assert.ok(n < changelogSize / 4, `a restart restored ${n} of ${changelogSize} changelog records`);
    console.log(`restored per restart: ${restored.join(', ')} (changelog ${changelogSize} records)`);
  });
});
