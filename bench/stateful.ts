/**
 * Count by key on the embedded log, per state backend, beside the stateless pipeline; and the
 * restore rate of the store from its changelog after the local state is lost.
 *
 *   node --import tsx bench/stateful.ts [--records 1000000] [--backends sqlite,level,memory]
 *
 * 1M JSON records (~100 B) over 8 partitions and 10k keys, produced first. For each backend:
 * run `groupByKey().count()` with exactly-once commits every 100 ms until every count is out
 * (records/s), then delete the local state and start again: the time to restore the changelog
 * gives restored records/s. The stateless figure is `filter + mapValues` on the same input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { app, serdes, type BackendKind } from '../src/index.js';
import { openEmbeddedLog } from '../src/log/embedded/index.js';
import type { Log, OutgoingRecord } from '../src/log/types.js';
import { silentLogger } from '../src/runtime/logger.js';
import { StreamsRuntime } from '../src/runtime/streams-runtime.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, backends: { type: 'string', default: 'sqlite,level,memory' } } });
const total = Number(values.records);
const backends = values.backends!.split(',') as BackendKind[];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Reading {
  sensor: string;
  seq: number;
  celsius: number;
  site: string;
  unit: string;
}

async function outCount(log: Log, topic: string): Promise<number> {
  return (await log.admin.offsets(topic)).reduce((n, p) => n + p.high, 0);
}

async function timeUntil(log: Log, topic: string, want: number): Promise<void> {
  while ((await outCount(log, topic)) < want) await new Promise((r) => setTimeout(r, 20));
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-state-'));
const log = openEmbeddedLog({ path: join(dir, 'log.db') });
try {
  await log.admin.createTopics([{ name: 'readings', partitions: 8 }]);
  const producer = log.producer();
  for (let start = 0; start < total; start += 10_000) {
    const batch: OutgoingRecord[] = [];
    for (let i = start; i < Math.min(total, start + 10_000); i++) {
      const value: Reading = { sensor: `sensor-${i % 10_000}`, seq: i, celsius: ((i * 7919) % 4000) / 100 - 5, site: 'plant-north-7', unit: 'celsius-x100' };
      batch.push({ topic: 'readings', key: Buffer.from(value.sensor), value: Buffer.from(JSON.stringify(value)), timestamp: 1_700_000_000_000 + i, headers: {} });
    }
    await producer.send(batch);
  }
  await producer.close();

  const rows: string[] = [];
  {
    const stateless = app('bench-stateless', (b) =>
      b.stream('readings', { value: serdes.json<Reading>() }).filter((_, r) => r.celsius > -100).mapValues((r) => ({ sensor: r.sensor, f: r.celsius * 1.8 + 32 })).to('stateless-out'),
    );
    const runtime = new StreamsRuntime(stateless, { log, logger: silentLogger, stateDir: join(dir, 'state') });
    const t0 = performance.now();
    await runtime.start();
    await timeUntil(log, 'stateless-out', total);
    const ms = performance.now() - t0;
    await runtime.close();
    rows.push(`| stateless filter + mapValues (reference) | - | ${fmt(total / (ms / 1000))} | - | - |`);
  }

  for (const backend of backends) {
    const id = `bench-count-${backend}`;
    const counting = app(id, (b) => b.stream('readings', { value: serdes.json<Reading>() }).groupByKey().count({ store: 'counts' }).toStream().to(`${id}-out`, { value: serdes.int32() }), {
      stateBackend: backend,
    });
    const stateDir = join(dir, `state-${backend}`);
    let runtime = new StreamsRuntime(counting, { log, logger: silentLogger, stateDir });
    const t0 = performance.now();
    await runtime.start();
    await timeUntil(log, `${id}-out`, total);
    const ms = performance.now() - t0;
    await runtime.close();
    const changelog = await outCount(log, `${id}-counts-changelog`);

    // Lose the local state; a new start restores it from the changelog.
    rmSync(stateDir, { recursive: true, force: true });
    runtime = new StreamsRuntime(counting, { log, logger: silentLogger, stateDir });
    const t1 = performance.now();
    await runtime.start(); // start() returns once tasks are assigned, which restores them first
    const restoreMs = performance.now() - t1;
    const restored = runtime.stats().restored;
    await runtime.close();
    rows.push(`| count by key | ${backend} | ${fmt(total / (ms / 1000))} | ${fmt(changelog)} | ${fmt(restored)} in ${fmt(restoreMs)} ms = ${fmt(restored / (restoreMs / 1000))}/s |`);
  }
  console.log(`records: ${fmt(total)}, 8 partitions, 10k keys, exactly-once, commit every 100 ms`);
  console.log('| workload | backend | records/s | changelog records | restore after losing local state |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
} finally {
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}
