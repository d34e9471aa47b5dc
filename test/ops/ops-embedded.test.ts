/**
 * Metrics, health, readiness and store queries of a runtime on the embedded log, checked against
 * a known workload: exact record counts, dropped records by reason, lag = produced - committed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startOpsServer, type OpsServer } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { countApp, get, lagByPartition, parseMetrics, produce, records, samples, value } from './helpers.js';

const IDLE_MS = 150;

describe('operations endpoints on the embedded log', () => {
  let dir: string;
  let log: Log;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-ops-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function started(appName: string, options: { stateBackend?: 'memory' | 'sqlite'; skipBadRecords?: boolean } = {}): Promise<{ runtime: StreamsRuntime; ops: OpsServer }> {
    const runtime = new StreamsRuntime(countApp(appName, 'in', 'out', options), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    const ops = await startOpsServer(runtime, { port: 0, metrics: { lagIntervalMs: 0, defaultMetrics: true } });
    cleanups.push(async () => {
      await ops.close();
      await runtime.close();
    });
    await runtime.start();
    return { runtime, ops };
  }

  // 5 keys x 6 records, and one record that is not JSON
  const keys = Array.from({ length: 30 }, (_, i) => `k${i % 5}`);

  it('counts records consumed, produced and dropped by reason exactly; lag is 0 once idle', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 3 }, { name: 'out', partitions: 3 }]);
    const poison = { topic: 'in', key: Buffer.from('k0'), value: Buffer.from('{not json'), timestamp: Date.now(), headers: {} };
    await produce(log, [...records('in', keys), poison]);
    const { runtime, ops } = await started('ops-counts');
    await runtime.waitUntilIdle(IDLE_MS);

    const res = await get(`${ops.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.type ?? '', /^text\/plain/);
    const m = parseMetrics(res.text);
    const application = 'ops-counts';
    assert.equal(value(m, 'tributary_records_consumed_total', { application, topic: 'in' }), 31);
    assert.equal(value(m, 'tributary_records_produced_total', { application, topic: 'out' }), 30, 'one count update per valid record');
    assert.equal(value(m, 'tributary_dropped_records_total', { application, reason: 'deserialization-error' }), 1);
    assert.equal(value(m, 'tributary_store_keys', { application, store: 'counts' }), 5);
    assert.equal(value(m, 'tributary_tasks', { application, state: 'running' }), 3);
    assert.equal(value(m, 'tributary_tasks', { application, state: 'restoring' }), 0);
    assert.equal(value(m, 'tributary_ready', { application }), 1);
    assert.equal(value(m, 'tributary_rebalances_total', { application }), 1, 'the first join');
    assert.equal(value(m, 'tributary_transaction_aborts_total', { application }), 0);
    assert.equal(value(m, 'tributary_restore_records_total', { application }), 0, 'nothing to restore on a first run');
    assert.equal(value(m, 'tributary_restore_remaining_records', { application }), 0);
    assert.ok(value(m, 'tributary_commits_total', { application })! >= 1);
    // latencies: observed per batch / commit, at least once each
    assert.ok(value(m, 'tributary_process_latency_seconds_count', { application })! >= 1);
    assert.ok(value(m, 'tributary_commit_latency_seconds_count', { application })! >= 1);
    assert.equal(samples(m, 'tributary_process_latency_seconds_bucket', { application, le: '+Inf' })[0]!.value, value(m, 'tributary_process_latency_seconds_count', { application }));
    // lag: everything committed
    assert.deepEqual(lagByPartition(m, 'tributary_consumer_lag_records', { application }), { 'in/0': 0, 'in/1': 0, 'in/2': 0 });
    assert.deepEqual(lagByPartition(m, 'kafka_consumergroup_group_lag', { group: application }), { 'in/0': 0, 'in/1': 0, 'in/2': 0 });
    assert.deepEqual(lagByPartition(m, 'kafka_consumergroup_group_lag_seconds', { group: application }), { 'in/0': 0, 'in/1': 0, 'in/2': 0 });
    assert.equal(value(m, 'tributary_application_lag_records', { application }), 0);
    // Node's default metrics, from the runtime's own registry
    assert.ok(samples(m, 'process_cpu_user_seconds_total').length === 1);
    assert.ok(samples(m, 'nodejs_heap_size_used_bytes').length === 1);
  });

  it('reports lag = produced - committed per partition, under both names, with the age of the oldest record', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 3 }, { name: 'out', partitions: 3 }]);
    await produce(log, records('in', keys));
    const { runtime, ops } = await started('ops-lag');
    await runtime.waitUntilIdle(IDLE_MS);
    await runtime.close();

    // produced while the application is stopped: nothing of it is committed
    const more = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const expected: Record<string, number> = { 'in/0': 0, 'in/1': 0, 'in/2': 0 };
    for (const k of more) expected[`in/${partitionForKey(Buffer.from(k), 3)}`]! += 1;
    const oldest = Date.now() - 120_000;
    await produce(log, records('in', more, oldest));

    const m = parseMetrics((await get(`${ops.url}/metrics`)).text);
    const application = 'ops-lag';
    assert.deepEqual(lagByPartition(m, 'tributary_consumer_lag_records', { application }), expected);
    assert.deepEqual(lagByPartition(m, 'kafka_consumergroup_group_lag', { group: application }), expected);
    assert.equal(value(m, 'tributary_application_lag_records', { application }), 40);
    assert.equal(value(m, 'kafka_consumergroup_group_sum_lag', { group: application }), 40);
    assert.equal(value(m, 'kafka_consumergroup_group_max_lag', { group: application }), Math.max(...Object.values(expected)));
    for (const s of samples(m, 'kafka_consumergroup_group_lag_seconds', { group: application })) {
      const lag = expected[`${s.labels.topic}/${s.labels.partition}`]!;
      if (lag === 0) assert.equal(s.value, 0);
      else assert.ok(s.value >= 120, `the oldest unconsumed record of ${s.labels.topic}/${s.labels.partition} is 120 s old: ${s.value}`);
    }
    assert.deepEqual(
      ops.metrics.lag().map((l) => [l.topic, l.partition, l.lag]),
      Object.entries(expected).map(([k, n]) => ['in', Number(k.split('/')[1]), n]),
    );
    assert.equal(value(m, 'tributary_ready', { application }), 0, 'a stopped runtime is not ready');

    // a new run catches up: lag back to 0, and it consumed exactly what was waiting
    const second = await started('ops-lag');
    await second.runtime.waitUntilIdle(IDLE_MS);
    const m2 = parseMetrics((await get(`${second.ops.url}/metrics`)).text);
    assert.equal(value(m2, 'tributary_records_consumed_total', { application, topic: 'in' }), 40);
    assert.equal(value(m2, 'tributary_application_lag_records', { application }), 0);
    assert.equal(value(m2, 'kafka_consumergroup_group_max_lag_seconds', { group: application }), 0);
  });

  it('answers /healthz and /ready, and /healthz turns 503 when the runtime fails', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 2 }, { name: 'out', partitions: 2 }]);
    await produce(log, records('in', keys.slice(0, 4)));
    const { runtime, ops } = await started('ops-health', { skipBadRecords: false });
    await runtime.waitUntilIdle(IDLE_MS);
    const health = await get(`${ops.url}/healthz`);
    assert.deepEqual([health.status, health.body], [200, { status: 'ok', state: 'running' }]);
    const ready = await get(`${ops.url}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.ready, true);
    assert.deepEqual(ready.body.tasks.map((t: { id: string; state: string }) => `${t.id}:${t.state}`).sort(), ['0_0:running', '0_1:running']);

    // a record that is not JSON under the default 'fail' handler stops the application
    await produce(log, [{ topic: 'in', key: Buffer.from('k1'), value: Buffer.from('{'), timestamp: Date.now(), headers: {} }]);
    await assert.rejects(runtime.stopped);
    const failed = await get(`${ops.url}/healthz`);
    assert.deepEqual([failed.status, failed.body], [503, { status: 'failed', state: 'failed' }]);
    const notReady = await get(`${ops.url}/ready`);
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body.reason, 'the runtime is failed');
  });

  it('/ready is 503 while tasks restore and 200 once they have', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 1 }, { name: 'out', partitions: 1 }]);
    // 60000 distinct keys: a memory store restores all of them from its changelog at every start
    const many = Array.from({ length: 60_000 }, (_, i) => `key-${i}`);
    for (let i = 0; i < many.length; i += 10_000) await produce(log, records('in', many.slice(i, i + 10_000)));
    const first = new StreamsRuntime(countApp('ops-restore', 'in', 'out', { stateBackend: 'memory' }), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await first.start();
    await first.waitUntilIdle(IDLE_MS);
    await first.close();

    const runtime = new StreamsRuntime(countApp('ops-restore', 'in', 'out', { stateBackend: 'memory' }), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    const ops = await startOpsServer(runtime, { port: 0, metrics: { lagIntervalMs: 0, defaultMetrics: false } });
    cleanups.push(async () => {
      await ops.close();
      await runtime.close();
    });
    const before = await get(`${ops.url}/ready`);
    assert.deepEqual([before.status, before.body.reason], [503, 'the runtime is created']);

    let startDone = false;
    const starting = runtime.start().finally(() => (startDone = true));
    // the runtime's status, read between restore batches
    let sawRestoring = false;
    while (!startDone && !sawRestoring) {
      await new Promise((resolve) => setImmediate(resolve));
      const s = runtime.status();
      if (s.tasks.some((t) => t.state === 'restoring')) {
        sawRestoring = true;
        assert.equal(s.ready, false);
        assert.match(s.reason!, /1 task\(s\) restoring \(0_0\)/);
      }
    }
    assert.ok(sawRestoring, 'the task was seen restoring');
    // and over HTTP while it restores (each answer must be consistent with itself)
    let sawRestoring503 = false;
    while (!startDone) {
      const r = await get(`${ops.url}/ready`);
      assert.equal(r.status, r.body.ready ? 200 : 503);
      if (r.status === 503 && /restoring/.test(r.body.reason)) {
        sawRestoring503 = true;
        assert.deepEqual(r.body.tasks, [{ id: '0_0', state: 'restoring' }]);
        const m = parseMetrics((await get(`${ops.url}/metrics`)).text);
        assert.equal(value(m, 'tributary_ready', { application: 'ops-restore' }), 0);
        break;
      }
    }
    await starting;
    assert.ok(sawRestoring503, 'GET /ready answered 503 (restoring) during the restore');
    const after = await get(`${ops.url}/ready`);
    assert.equal(after.status, 200);
    assert.deepEqual(after.body.tasks, [{ id: '0_0', state: 'running' }]);
    const m = parseMetrics((await get(`${ops.url}/metrics`)).text);
    assert.equal(value(m, 'tributary_restore_records_total', { application: 'ops-restore' }), 60_000);
    assert.equal(value(m, 'tributary_restore_remaining_records', { application: 'ops-restore' }), 0);
    assert.equal(value(m, 'tributary_store_keys', { application: 'ops-restore', store: 'counts' }), 60_000);
  });

  it('serves store keys and ranges, with 400s for bad input and 404s for unknown stores and keys', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 3 }, { name: 'out', partitions: 3 }]);
    await produce(log, records('in', keys));
    const { runtime, ops } = await started('ops-stores');
    await runtime.waitUntilIdle(IDLE_MS);

    const k0 = await get(`${ops.url}/stores/counts/keys/k0`);
    assert.deepEqual([k0.status, k0.body], [200, { store: 'counts', key: 'k0', value: 6 }]);
    const list = await get(`${ops.url}/stores`);
    assert.deepEqual(list.body, [{ name: 'counts', kind: 'key-value', keys: 5 }]);

    const range = await get(`${ops.url}/stores/counts/range?from=k1&to=k3`);
    assert.equal(range.status, 200);
    assert.deepEqual(
      range.body.entries.map((e: { key: string; value: number }) => [e.key, e.value]).sort(),
      [['k1', 6], ['k2', 6], ['k3', 6]],
    );
    assert.deepEqual([range.body.more, range.body.partial], [false, false]);
    const all = await get(`${ops.url}/stores/counts/range`);
    assert.equal(all.body.entries.length, 5);
    const limited = await get(`${ops.url}/stores/counts/range?limit=2`);
    assert.deepEqual([limited.body.entries.length, limited.body.more], [2, true]);

    const missingKey = await get(`${ops.url}/stores/counts/keys/nope`);
    assert.deepEqual([missingKey.status, missingKey.body.retriable], [404, false]);
    assert.match(missingKey.body.error, /no key "nope"/);
    const unknownStore = await get(`${ops.url}/stores/no-such-store/keys/k0`);
    assert.equal(unknownStore.status, 404);
    assert.match(unknownStore.body.error, /no store named 'no-such-store' \(stores: counts\)/);
    const badName = await get(`${ops.url}/stores/${encodeURIComponent('bad name!')}/keys/k0`);
    assert.equal(badName.status, 400);
    const longKey = await get(`${ops.url}/stores/counts/keys/${'x'.repeat(5000)}`);
    assert.deepEqual([longKey.status, longKey.body.error], [400, 'the key is longer than 4096 bytes']);
    const badLimit = await get(`${ops.url}/stores/counts/range?limit=0`);
    assert.equal(badLimit.status, 400);
    const badEncoding = await get(`${ops.url}/stores/counts/keys/%E0%A4%A`);
    assert.equal(badEncoding.status, 400);
    const post = await get(`${ops.url}/stores/counts/keys/k0`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal((await get(`${ops.url}/nothing-here`)).status, 404);

    // once the runtime stopped, its tasks are gone: the key's task is not on this instance
    await runtime.close();
    const elsewhere = await get(`${ops.url}/stores/counts/keys/k0`);
    const partition = partitionForKey(Buffer.from('k0'), 3);
    assert.deepEqual([elsewhere.status, elsewhere.body.retriable, elsewhere.body.task, elsewhere.body.partition], [404, true, `0_${partition}`, partition]);
  });

  it('lets a resolveOwner hook decide where a key lives, and a forward hook answer for the owner', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 3 }, { name: 'out', partitions: 3 }]);
    await produce(log, records('in', keys));
    const runtime = new StreamsRuntime(countApp('ops-owner', 'in', 'out'), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    const asked: string[] = [];
    const ops = await startOpsServer(runtime, {
      port: 0,
      metrics: { lagIntervalMs: 0, defaultMetrics: false },
      stores: {
        resolveOwner: (store, keyBytes) => {
          asked.push(`${store}:${keyBytes.toString()}`);
          return keyBytes.toString() === 'k1' ? { kind: 'remote', task: '0_9', partition: 9, owner: 'http://other:9464' } : { kind: 'local' };
        },
        forward: async (owner, req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ forwardedTo: owner.owner, path: req.url }));
        },
      },
    });
    cleanups.push(async () => {
      await ops.close();
      await runtime.close();
    });
    await runtime.start();
    await runtime.waitUntilIdle(IDLE_MS);
    assert.deepEqual((await get(`${ops.url}/stores/counts/keys/k2`)).body, { store: 'counts', key: 'k2', value: 6 });
    assert.deepEqual((await get(`${ops.url}/stores/counts/keys/k1`)).body, { forwardedTo: 'http://other:9464', path: '/stores/counts/keys/k1' });
    assert.deepEqual(asked, ['counts:k2', 'counts:k1']);
    assert.deepEqual(await ops.stores.locate('counts', Buffer.from('k0')), { store: 'counts', partition: partitionForKey(Buffer.from('k0'), 3), task: `0_${partitionForKey(Buffer.from('k0'), 3)}` });
  });

  it('keeps the metrics of two runtimes in one process apart (a registry each)', async () => {
    await log.admin.createTopics([{ name: 'in', partitions: 1 }, { name: 'out', partitions: 1 }, { name: 'in2', partitions: 1 }, { name: 'out2', partitions: 1 }]);
    await produce(log, records('in', keys.slice(0, 3)));
    await produce(log, records('in2', keys.slice(0, 7)));
    const a = new StreamsRuntime(countApp('ops-a', 'in', 'out'), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    const b = new StreamsRuntime(countApp('ops-b', 'in2', 'out2'), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    const opsA = await startOpsServer(a, { port: 0, metrics: { lagIntervalMs: 0 } });
    const opsB = await startOpsServer(b, { port: 0, metrics: { lagIntervalMs: 0 } });
    cleanups.push(async () => {
      await opsA.close();
      await opsB.close();
      await a.close();
      await b.close();
    });
    await a.start();
    await b.start();
    await a.waitUntilIdle(IDLE_MS);
    await b.waitUntilIdle(IDLE_MS);
    const ma = parseMetrics((await get(`${opsA.url}/metrics`)).text);
    const mb = parseMetrics((await get(`${opsB.url}/metrics`)).text);
    assert.deepEqual(samples(ma, 'tributary_records_consumed_total').map((s) => [s.labels.application, s.labels.topic, s.value]), [['ops-a', 'in', 3]]);
    assert.deepEqual(samples(mb, 'tributary_records_consumed_total').map((s) => [s.labels.application, s.labels.topic, s.value]), [['ops-b', 'in2', 7]]);
  });
});
