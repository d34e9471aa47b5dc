/**
 * `tributary lag` and `tributary run --http-port` on the embedded log, as a user runs them: a
 * known workload, lag = produced - committed per partition, and the owner of each task.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import { runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { get, lagByPartition, parseMetrics, produce, records, value } from './helpers.js';

const topology = 'test/ops/fixtures/ops-count.ts';

/** Lag per partition of `keys`, on a 3-partition topic. */
function perPartition(keys: string[]): Record<string, number> {
  const out: Record<string, number> = { 'ops-in/0': 0, 'ops-in/1': 0, 'ops-in/2': 0 };
  for (const k of keys) out[`ops-in/${partitionForKey(Buffer.from(k), 3)}`]! += 1;
  return out;
}

describe('tributary lag and run --http-port (embedded log)', () => {
  let dir: { path: string; remove(): void };
  beforeEach(() => {
    dir = tempDir('tributary-ops-cli-');
  });
  afterEach(() => dir.remove());

  async function produceTo(keys: string[]): Promise<void> {
    const log = openEmbeddedLog({ path: join(dir.path, 'log.db') });
    try {
      await log.admin.createTopics([{ name: 'ops-in', partitions: 3 }]);
      await produce(log, records('ops-in', keys));
    } finally {
      await log.close();
    }
  }

  it('prints lag per partition (produced - committed) and per owner, as a table and as JSON', async () => {
    const first = Array.from({ length: 30 }, (_, i) => `k${i % 5}`);
    await produceTo(first);
    const ran = await runCli(['run', topology, '--state-dir', dir.path, '--until-idle', '--idle-ms', '200', '--no-typecheck']);
    assert.equal(ran.code, 0, ran.stderr);
    const more = Array.from({ length: 40 }, (_, i) => `m${i}`);
    await produceTo(more);

    const json = await runCli(['lag', topology, '--state-dir', dir.path, '--json', '--no-typecheck']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as {
      application: string;
      total: number;
      partitions: { topic: string; partition: number; task: string; logEnd: number; committed: number | null; lag: number; owner: string | null }[];
      owners: { owner: string | null; tasks: string[]; partitions: number; lag: number }[];
    };
    const committed = perPartition(first);
    const waiting = perPartition(more);
    assert.equal(report.application, 'ops-count');
    assert.equal(report.total, 40);
    assert.deepEqual(
      report.partitions,
      [0, 1, 2].map((p) => ({
        topic: 'ops-in',
        partition: p,
        task: `0_${p}`,
        logEnd: committed[`ops-in/${p}`]! + waiting[`ops-in/${p}`]!,
        committed: committed[`ops-in/${p}`]! === 0 ? null : committed[`ops-in/${p}`]!,
        lag: waiting[`ops-in/${p}`]!,
        owner: null,
      })),
    );
    assert.deepEqual(report.owners, [{ owner: null, tasks: ['0_0', '0_1', '0_2'], partitions: 3, lag: 40 }]);

    const table = await runCli(['lag', topology, '--state-dir', dir.path, '--no-typecheck']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.split('\n');
    assert.match(lines[0]!, /^TOPIC\s+PARTITION\s+TASK\s+LOG-END\s+COMMITTED\s+LAG\s+OWNER$/);
    for (const p of [0, 1, 2]) {
      const row = lines.find((l) => new RegExp(`^ops-in\\s+${p}\\s+0_${p}\\s`).test(l));
      assert.ok(row, `a row for partition ${p}`);
      assert.match(row!, new RegExp(`\\s${waiting[`ops-in/${p}`]}\\s+-$`));
    }
    assert.match(table.stdout, /ops-count: total lag 40 \(no live member: the application is not running\)/);
  });

  it('names the running instance as the owner, and serves /metrics, /ready and /stores from `run --http-port`', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `k${i % 5}`);
    await produceTo(keys);
    const running = spawnCli(['run', topology, '--state-dir', dir.path, '--http-port', '0', '--no-typecheck'], { timeoutMs: 120_000 });
    try {
      await running.waitForOutput(/operations endpoints on (http:\/\/127\.0\.0\.1:\d+)/, { stream: 'stderr' });
      const url = /operations endpoints on (http:\/\/127\.0\.0\.1:\d+)/.exec(running.stderr())![1]!;
      await running.waitForOutput("running 'ops-count'", { stream: 'stderr' });
      // every record consumed: the count of each key is 6
      for (let i = 0; i < 200; i++) {
        const m = parseMetrics((await get(`${url}/metrics`)).text);
        if (value(m, 'tributary_records_consumed_total', { application: 'ops-count', topic: 'ops-in' }) === 30 && value(m, 'tributary_application_lag_records', { application: 'ops-count' }) === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const m = parseMetrics((await get(`${url}/metrics`)).text);
      assert.equal(value(m, 'tributary_records_consumed_total', { application: 'ops-count', topic: 'ops-in' }), 30);
      assert.deepEqual(lagByPartition(m, 'kafka_consumergroup_group_lag', { group: 'ops-count' }), { 'ops-in/0': 0, 'ops-in/1': 0, 'ops-in/2': 0 });
      assert.equal((await get(`${url}/ready`)).status, 200);
      assert.deepEqual((await get(`${url}/stores/counts/keys/k3`)).body, { store: 'counts', key: 'k3', value: 6 });

      const json = await runCli(['lag', topology, '--state-dir', dir.path, '--json', '--no-typecheck']);
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout) as { total: number; partitions: { owner: string | null }[]; owners: { owner: string; tasks: string[] }[] };
      const owner = `${hostname()} pid ${running.child.pid}`;
      assert.deepEqual(report.partitions.map((p) => p.owner), [owner, owner, owner]);
      assert.deepEqual(report.owners.map((o) => [o.owner, o.tasks]), [[owner, ['0_0', '0_1', '0_2']]]);
      assert.equal(report.total, 0);
    } finally {
      running.kill('SIGTERM');
    }
    const exited = await running.exited;
    assert.equal(exited.code, 0, exited.stderr);
  });

  it('refuses --http-host without --http-port and a port out of range', async () => {
    const noPort = await runCli(['run', topology, '--state-dir', dir.path, '--http-host', '0.0.0.0', '--no-typecheck']);
    assert.equal(noPort.code, 2);
    assert.match(noPort.stderr, /--http-host only applies with --http-port/);
    const badPort = await runCli(['run', topology, '--state-dir', dir.path, '--http-port', '70000', '--no-typecheck']);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--http-port must be at most 65535/);
  });
});
