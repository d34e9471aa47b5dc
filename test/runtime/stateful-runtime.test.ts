/**
 * Stateful topologies on the real runtime and embedded log, on each state backend: results
 * equal testTopology's, a clean restart restores nothing (the local checkpoint is current), the
 * memory backend restores everything from the changelog, and state ahead of its changelog is
 * wiped and rebuilt.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { app, serdes, SessionWindows, testTopology, TimeWindows, type BackendKind } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';

interface Click {
  user: string;
  page: string;
}

function clicks(n: number): [string, Click][] {
  return Array.from({ length: n }, (_, i) => [`s${i % 31}`, { user: `u${(i * 13) % 17}`, page: `p${i % 5}` }]);
}

const topologyFor = (backend: BackendKind) =>
  app(
    `stats-${backend}`,
    (b) => {
      const s = b.stream('clicks', { key: serdes.string(), value: serdes.json<Click>() });
      s.groupBy((_, c) => c.user).count({ store: 'per-user' }).toStream().to('per-user', { value: serdes.int32() });
      s.groupBy((_, c) => c.page)
        // Records reach the windowed task through a repartition topic fed by 3 tasks, so out of
        // order: a grace period keeps them all (with none, some would rightly be dropped as late).
        .windowedBy(TimeWindows.ofSize(100).grace(10_000))
        .count({ store: 'per-page-window' })
        .toStream()
        .map((w, n) => [`${w.key}@${w.window.start}`, n])
        .to('per-page-window', { value: serdes.int32() });
    },
    { stateBackend: backend },
  );

async function lastPerKey(log: Log, topic: string): Promise<Map<string, number>> {
  const parts = await log.admin.offsets(topic);
  const want = parts.reduce((n, p) => n + p.high, 0);
  const consumer = log.consumer({ maxPollRecords: 5000 });
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  const out = new Map<string, number>();
  let read = 0;
  for (let i = 0; i < 1000 && read < want; i++) {
    for (const r of await consumer.poll(50)) {
      read++;
      out.set(r.key!.toString(), r.value!.readInt32BE(0));
    }
  }
  await consumer.close();
  return new Map([...out].sort());
}

describe('stateful runtime on the embedded log', () => {
  let dir: string;
  let log: Log;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-stateful-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });
  afterEach(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function produce(pairs: [string, Click][], start: number) {
    const producer = log.producer();
    await producer.send(pairs.map(([k, v], i) => ({ topic: 'clicks', key: Buffer.from(k), value: Buffer.from(JSON.stringify(v)), timestamp: start + i, headers: {} })));
    await producer.close();
  }

  async function runOnce(backend: BackendKind): Promise<StreamsRuntime> {
    const runtime = new StreamsRuntime(topologyFor(backend), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    await runtime.close();
    return runtime;
  }

  for (const backend of ['sqlite', 'level', 'memory'] as const) {
    it(`${backend}: same results as testTopology, across a restart`, async () => {
      await log.admin.createTopics([{ name: 'clicks', partitions: 3 }]);
      const first = clicks(600);
      const second = clicks(900).slice(600);
      const t = testTopology(topologyFor(backend));
      first.forEach(([k, v], i) => t.input('clicks').pipe(k, v, { timestamp: i }));
      second.forEach(([k, v], i) => t.input('clicks').pipe(k, v, { timestamp: 600 + i }));
      const expectedUsers = new Map([...t.output('per-user', { value: serdes.int32() }).readKeyValuesToMap()].sort()) as Map<string, number>;
      const expectedWindows = new Map([...t.output('per-page-window', { value: serdes.int32() }).readKeyValuesToMap()].sort()) as Map<string, number>;

      await produce(first, 0);
      const run1 = await runOnce(backend);
      assert.equal(run1.stats().restored, 0, 'nothing to restore on a first run');
      await produce(second, 600);
      const run2 = await runOnce(backend);
      const changelogRecords = (await log.admin.offsets(`stats-${backend}-per-user-changelog`)).reduce((n, p) => n + p.high, 0);
      if (backend === 'memory') {
        assert.ok(run2.stats().restored >= changelogRecords / 2, `memory state is rebuilt from the changelogs: restored ${run2.stats().restored}`);
      } else {
        assert.equal(run2.stats().restored, 0, 'a clean restart restores nothing: the local checkpoint is current');
      }
      assert.deepEqual(await lastPerKey(log, 'per-user'), expectedUsers);
      assert.deepEqual(await lastPerKey(log, 'per-page-window'), expectedWindows);
    });
  }

  it('replays only the tail when local state lags its changelog', async () => {
    await log.admin.createTopics([{ name: 'clicks', partitions: 1 }]);
    await produce(clicks(300), 0);
    await runOnce('sqlite');
    // Another copy of the state dir from before more input: it lags the changelog.
    const { cpSync } = await import('node:fs');
    cpSync(join(dir, 'state'), join(dir, 'state-old'), { recursive: true });
    await produce(clicks(500).slice(300), 300);
    await runOnce('sqlite');
    const expected = await lastPerKey(log, 'per-user');
    rmSync(join(dir, 'state'), { recursive: true });
    cpSync(join(dir, 'state-old'), join(dir, 'state'), { recursive: true });
    const changelogRecords = (await log.admin.offsets('stats-sqlite-per-user-changelog')).reduce((n, p) => n + p.high, 0);
    await produce(clicks(501).slice(500), 500);
    const lagging = await runOnce('sqlite');
    assert.ok(lagging.stats().restored > 0 && lagging.stats().restored < changelogRecords * 2, `restored the tail: ${lagging.stats().restored}`);
    const after = await lastPerKey(log, 'per-user');
    const user = clicks(501)[500]![1].user;
    assert.equal(after.get(user), expected.get(user)! + 1, 'the restored count continued from the full history');
  });

  it('wipes local state that is ahead of its changelog (the changelog is the truth) and rebuilds it', async () => {
    await log.admin.createTopics([{ name: 'clicks', partitions: 1 }]);
    await produce(clicks(200), 0);
    await runOnce('sqlite');
    // The changelogs vanish (say, an application reset that left local state behind).
    await log.admin.deleteTopics(['stats-sqlite-per-user-changelog', 'stats-sqlite-per-page-window-changelog']);
    const [key, value] = clicks(201)[200]!;
    await produce([[key, value]], 200);
    await runOnce('sqlite');
    const counts = await lastPerKey(log, 'per-user');
    assert.equal(counts.get(value.user), 1, 'the stale local count was dropped, not continued');
  });

  it('answers local interactive queries from a running app, by store name', async () => {
    await log.admin.createTopics([{ name: 'clicks', partitions: 3 }]);
    await produce(clicks(300), 0);
    const runtime = new StreamsRuntime(topologyFor('sqlite'), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    const perUser = runtime.store<import('../../src/index.js').ReadOnlyKeyValueStore<string, number>>('per-user');
    const expected = new Map<string, number>();
    for (const [, c] of clicks(300)) expected.set(c.user, (expected.get(c.user) ?? 0) + 1);
    for (const [user, n] of expected) assert.equal(perUser.get(user), n);
    assert.equal(perUser.get('nobody'), undefined);
    assert.equal([...perUser.all()].length, expected.size);
    const windows = runtime.store<import('../../src/index.js').ReadOnlyWindowStore<string, number>>('per-page-window');
    assert.equal(windows.fetch('p0', 0), 20);
    assert.throws(() => runtime.store('nope'), /no store named 'nope'/);
    await runtime.close();
  });

  it('a backlog repartitioned into windows loses nothing to lateness: tasks run and write in event-time order', async () => {
    await log.admin.createTopics([{ name: 'clicks', partitions: 4 }]);
    const backlog = clicks(4000);
    // One record a millisecond; each of the four input partitions spans the whole range.
    await produce(backlog, 0);
    const windowed = app('backlog', (b) =>
      b.stream('clicks', { value: serdes.json<Click>() })
        .groupBy((_, c) => c.page)
        .windowedBy(TimeWindows.ofSize(10).grace(2))
        .count({ store: 'per-page' })
        .toStream()
        .to('backlog-out'),
    );
    const runtime = new StreamsRuntime(windowed, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    const stats = runtime.stats();
    await runtime.close();
    assert.deepEqual(stats.dropped, {}, 'no record dropped as late');
    assert.equal(stats.recordsOut['backlog-out'], backlog.length);
  });

  it('answers session-store queries from a running app', async () => {
    await log.admin.createTopics([{ name: 'clicks', partitions: 2 }]);
    // u1 clicks at 0, 5, 8 (one session with gap 10) and again at 100 (a second session).
    const producer = log.producer();
    await producer.send(
      [0, 5, 8, 100].map((ts) => ({ topic: 'clicks', key: Buffer.from('u1'), value: Buffer.from(JSON.stringify({ user: 'u1', page: 'p' })), timestamp: ts, headers: {} })),
    );
    await producer.close();
    const sessions = app('sessions', (b) =>
      b.stream('clicks', { value: serdes.json<Click>() }).groupByKey().windowedBy(SessionWindows.ofInactivityGap(10)).count({ store: 'user-sessions' }).toStream().to('sessions-out'),
    );
    const runtime = new StreamsRuntime(sessions, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    const store = runtime.store<import('../../src/index.js').ReadOnlySessionStore<string, number>>('user-sessions');
    const found = [...store.findSessions('u1', 0, 1000)].map((e) => [e.key.window.start, e.key.window.end, e.value]);
    assert.deepEqual(found, [[0, 8, 3], [100, 100, 1]]);
    assert.equal(store.fetchSession('u1', 0, 8), 3);
    await runtime.close();
  });
});
