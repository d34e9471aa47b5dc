/**
 * kill -9 `tributary run` at random moments while it works through 100k records, restart it
 * each time, and check the output holds every record exactly once: nothing lost, nothing twice.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log, OutgoingRecord } from '../../src/log/types.js';
import { spawnCli, tempDir } from '../helpers/cli.js';

const TOTAL = 100_000;
const KILLS = 6;
const fixture = 'test/fixtures/topologies/crash-pipeline.ts';

async function outputCount(log: Log, topic: string): Promise<number> {
  const topics = await log.admin.listTopics();
  if (!topics.includes(topic)) return 0;
  return (await log.admin.offsets(topic)).reduce((n, p) => n + p.high, 0);
}

async function readAll(log: Log, topic: string): Promise<Buffer[]> {
  const parts = await log.admin.offsets(topic);
  const consumer = log.consumer({ maxPollRecords: 10_000 });
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  const values: Buffer[] = [];
  const want = parts.reduce((n, p) => n + p.high, 0);
  for (let i = 0; i < 10_000 && values.length < want; i++) {
    for (const r of await consumer.poll(100)) values.push(r.value!);
  }
  await consumer.close();
  return values;
}

describe('crash test: kill -9 during `tributary run` on the embedded log', () => {
  const dir = tempDir('tributary-crash-');
  const stateDir = dir.path;
  let log: Log;

  before(async () => {
    log = openEmbeddedLog({ path: join(stateDir, 'log.db') });
    await log.admin.createTopics([{ name: 'in', partitions: 4 }]);
    const producer = log.producer();
    for (let start = 0; start < TOTAL; start += 5000) {
      const batch: OutgoingRecord[] = [];
      for (let seq = start; seq < start + 5000; seq++) {
        batch.push({ topic: 'in', key: Buffer.from(`k${seq % 1000}`), value: Buffer.from(JSON.stringify({ seq })), timestamp: seq, headers: {} });
      }
      await producer.send(batch);
    }
    await producer.close();
  });

  after(async () => {
    await log.close();
    dir.remove();
  });

  it(`loses nothing and duplicates nothing across ${KILLS} kill -9s`, async () => {
    const args = ['run', fixture, '--state-dir', stateDir, '--skip-typecheck', '--log-level', 'warn'];
    const killedAt: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const before = await outputCount(log, 'out');
      // Kill somewhere in the next slice of the work, so every kill lands mid-run.
      const target = before + Math.floor(((TOTAL - before) / (KILLS + 1 - i)) * (0.3 + Math.random() * 0.7));
      const child = spawnCli(args, { timeoutMs: 120_000 });
      const deadline = Date.now() + 60_000;
      let seen = before;
      while (seen < target && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
        seen = await outputCount(log, 'out');
      }
      child.kill('SIGKILL');
      const result = await child.exited;
      assert.equal(result.signal, 'SIGKILL', `run ${i} should have been killed, it exited with ${result.code}: ${result.stderr}`);
      killedAt.push(await outputCount(log, 'out'));
    }
    // Every kill landed before the end, so recovery was exercised each time.
    assert.ok(killedAt.every((n) => n < TOTAL), `kills at ${killedAt.join(', ')}`);
    assert.ok(killedAt[0]! > 0 && killedAt[KILLS - 1]! > killedAt[0]!, `progress across kills: ${killedAt.join(', ')}`);

    const last = spawnCli([...args, '--until-idle', '--idle-ms', '300'], { timeoutMs: 120_000 });
    const done = await last.exited;
    assert.equal(done.code, 0, done.stderr);

    const values = await readAll(log, 'out');
    const seen = new Uint8Array(TOTAL);
    let duplicates = 0;
    for (const v of values) {
      const { seq, doubled } = JSON.parse(v.toString()) as { seq: number; doubled: number };
      assert.equal(doubled, seq * 2);
      if (seen[seq]) duplicates++;
      seen[seq] = 1;
    }
    const missing = seen.reduce((n, s) => n + (s ? 0 : 1), 0);
    assert.equal(duplicates, 0, 'no record may appear twice');
    assert.equal(missing, 0, 'no record may be lost');
    assert.equal(values.length, TOTAL);
  });
});
