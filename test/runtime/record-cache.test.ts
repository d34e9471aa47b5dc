/**
 * recordCacheSize (Kafka Streams' record cache): aggregations forward at most one update per key
 * per commit. On the real runtime and the embedded log: far fewer output records, the same final
 * values, old values that chain (each update's old value is the previous update's new value), and
 * windowed counts too; with the cache off every update goes out (the control).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { app, serdes, TimeWindows, type App } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';

const KEYS = 20;
const RECORDS = 2000;

describe('recordCacheSize: one update per key per commit', () => {
  let dir: string;
  let log: Log;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-cache-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
    await log.admin.createTopics([{ name: 'clicks', partitions: 1 }]);
    const producer = log.producer();
    await producer.send(
      Array.from({ length: RECORDS }, (_, i) => ({ topic: 'clicks', key: Buffer.from(`k${i % KEYS}`), value: Buffer.from(`${i}`), timestamp: i * 10, headers: {} })),
    );
    await producer.close();
  });
  afterEach(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runUntilIdle(application: App): Promise<void> {
    const runtime = new StreamsRuntime(application, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    await runtime.close();
  }

  async function readAll(topic: string): Promise<{ key: string; value: Buffer }[]> {
    const [p] = await log.admin.offsets(topic);
    const consumer = log.consumer({ maxPollRecords: 5000 });
    consumer.assign([{ topic, partition: 0 }]);
    const out: { key: string; value: Buffer }[] = [];
    for (let i = 0; i < 1000 && out.length < p!.high; i++) for (const r of await consumer.poll(20)) out.push({ key: r.key!.toString(), value: r.value! });
    await consumer.close();
    return out;
  }

  const countApp = (recordCacheSize: number) =>
    app(
      `cache-count-${recordCacheSize}`,
      (b) => {
        const counts = b.stream('clicks', { key: serdes.string(), value: serdes.string() }).groupByKey().count({ store: 'counts' });
        counts.toStream().to('counts-out', { value: serdes.int32() });
        // a re-aggregation subtracts each update's old value: right only if the old values the
        // cache forwards are the ones downstream last saw (the total is then every click)
        counts
          .groupBy((_, n) => ['all', n] as const, { key: serdes.string(), value: serdes.json<number>() })
          .reduce((a, b) => a + b, (a, b) => a - b, { store: 'total' })
          .toStream()
          .to('total-out', { value: serdes.int32() });
      },
      { recordCacheSize, maxPollRecords: 100, commitIntervalMs: 50 },
    );

  for (const size of [0, 5, 1000]) {
    it(`count with recordCacheSize ${size}: ${size === 0 ? 'every update forwarded (control)' : size === 5 ? 'evictions keep counts and old values right' : 'fewer records, the same final counts'}`, async () => {
      await runUntilIdle(countApp(size));
      const out = await readAll('counts-out');
      const last = new Map<string, number>();
      for (const r of out) {
        const n = r.value.readInt32BE(0);
        // per key the forwarded counts only grow (updates are held, never reordered)
        assert.ok(n > (last.get(r.key) ?? 0), `count of ${r.key} went from ${last.get(r.key)} to ${n}`);
        last.set(r.key, n);
      }
      assert.equal(last.size, KEYS);
      for (const [key, n] of last) assert.equal(n, RECORDS / KEYS, `final count of ${key}`);
      const totals = await readAll('total-out');
      assert.equal(totals.at(-1)!.value.readInt32BE(0), RECORDS, 'the re-aggregated total is every click');
      if (size === 0) assert.equal(out.length, RECORDS);
      // 20 keys in turn through 5 places: each key is evicted before it comes again (still right)
      if (size === 5) assert.ok(out.length > KEYS, 'a cache smaller than the keys forwards early (evicts)');
      if (size === 1000) assert.ok(out.length < RECORDS / 2, `${out.length} records forwarded for ${RECORDS} updates`);
    });
  }

  it('windowed counts with a cache: the same final count per window', async () => {
    const application = (recordCacheSize: number) =>
      app(
        `cache-window-${recordCacheSize}`,
        (b) => {
          b.stream('clicks', { key: serdes.string(), value: serdes.string() })
            .groupByKey()
            .windowedBy(TimeWindows.ofSize(1000))
            .count({ store: 'window-counts' })
            .toStream()
            .map((w, n) => [`${w.key}@${w.window.start}`, n])
            .to(`window-out-${recordCacheSize}`, { key: serdes.string(), value: serdes.int32() });
        },
        { recordCacheSize, maxPollRecords: 100, commitIntervalMs: 50 },
      );
    await runUntilIdle(application(0));
    await runUntilIdle(application(1000));
    const finals = (records: { key: string; value: Buffer }[]) => {
      const m = new Map<string, number>();
      for (const r of records) m.set(r.key, r.value.readInt32BE(0));
      return [...m].sort();
    };
    const uncached = await readAll('window-out-0');
    const cached = await readAll('window-out-1000');
    assert.equal(uncached.length, RECORDS);
    assert.ok(cached.length < uncached.length, `${cached.length} < ${uncached.length}`);
    assert.deepEqual(finals(cached), finals(uncached));
  });

  for (const handling of ['fail', 'continue'] as const) {
    it(`a held update that fails downstream at the commit: errors.processing '${handling}'`, async () => {
      const application = app(
        `cache-poison-${handling}`,
        (b) => {
          b.stream('clicks', { key: serdes.string(), value: serdes.string() })
            .groupByKey()
            .count({ store: 'counts' })
            .toStream()
            .mapValues((n, k) => {
              if (k === 'k7') throw new Error('k7 is poison');
              return n;
            })
            .to(`poison-out-${handling}`, { value: serdes.int32() });
        },
        { recordCacheSize: 1000, maxPollRecords: 100, commitIntervalMs: 50, errors: { processing: handling } },
      );
      const runtime = new StreamsRuntime(application, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
      await runtime.start();
      if (handling === 'fail') {
        await assert.rejects(runtime.stopped, /held by the record cache \(recordCacheSize\) failed downstream at the commit: k7 is poison/);
        const [end] = await log.admin.offsets('poison-out-fail').catch(() => [{ high: 0 }]);
        assert.equal(end!.high, 0, 'nothing of the failed commit was written');
        return;
      }
      await runtime.waitUntilIdle(150);
      await runtime.close();
      const out = await readAll('poison-out-continue');
      const keys = new Set(out.map((r) => r.key));
      assert.equal(keys.has('k7'), false);
      assert.equal(keys.size, KEYS - 1, 'the other keys went through');
      assert.ok((runtime.stats().dropped['processing-error'] ?? 0) > 0, 'the skipped updates are counted');
    });
  }

  it('refuses a negative or fractional size', () => {
    assert.throws(() => app('bad-cache', (b) => void b.stream('clicks'), { recordCacheSize: -1 }).topology(), /recordCacheSize must be an integer >= 0/);
  });
});
