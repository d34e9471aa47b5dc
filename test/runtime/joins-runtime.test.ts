/**
 * Joins on the real runtime and the embedded log: a stream-stream outer join (one side
 * repartitioned) gives what testTopology gives, across a restart that restores the join
 * windows and the held unmatched records from their changelogs (the repartition topic takes the
 * other side's partition count); global tables are read before tasks start and followed while
 * they run; joins of inputs that are not co-partitioned are refused at start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { app, JoinWindows, serdes, testTopology, TopicError, type App, type BackendKind, type ReadOnlyKeyValueStore } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';

interface Payment {
  order: string;
  amount: number;
}

const SPAN = 2000;

const outerJoinApp = (backend: BackendKind) =>
  app(
    `pay-join-${backend}`,
    (b) => {
      const orders = b.stream('orders', { key: serdes.string(), value: serdes.string() });
      // Payments are keyed by payment id: re-keyed by order, they reach the join through a repartition topic.
      const payments = b.stream('payments', { key: serdes.string(), value: serdes.json<Payment>() }).selectKey((_, p) => p.order);
      orders
        // A grace as long as the whole input: nothing is late however the partitions interleave.
        .outerJoin(payments, (o, p) => `${o ?? '-'}|${p?.amount ?? '-'}`, JoinWindows.ofTimeDifference(100).grace(SPAN + 200), { name: 'pay', value: serdes.string(), otherValue: serdes.json<Payment>() })
        .to('paid', { value: serdes.string() });
    },
    { stateBackend: backend },
  );

/** Deterministic input: orders and payments over 40 order ids, timestamps spread over SPAN ms, out of order. */
function input(): { orders: [string, string, number][]; payments: [string, Payment, number][] } {
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) >>> 8;
  const orders: [string, string, number][] = [];
  const payments: [string, Payment, number][] = [];
  for (let i = 0; i < 300; i++) orders.push([`o${next() % 40}`, `order${i}`, next() % SPAN]);
  for (let i = 0; i < 300; i++) payments.push([`pay${i}`, { order: `o${next() % 45}`, amount: i }, next() % SPAN]);
  return { orders, payments };
}

/** Keys that cover every partition, for records that close all windows in every task. */
function flushKeys(partitions: number): string[] {
  const keys: string[] = [];
  for (let i = 0; new Set(keys.map((k) => partitionForKey(Buffer.from(k), partitions))).size < partitions; i++) keys.push(`flush${i}`);
  return keys;
}

async function readAll(log: Log, topic: string): Promise<string[]> {
  const parts = await log.admin.offsets(topic);
  const want = parts.reduce((n, p) => n + p.high - p.low, 0);
  const consumer = log.consumer({ maxPollRecords: 5000 });
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  const out: string[] = [];
  for (let i = 0; i < 1000 && out.length < want; i++) {
    for (const r of await consumer.poll(50)) out.push(JSON.stringify([r.key?.toString() ?? null, r.value?.toString() ?? null, r.timestamp]));
  }
  await consumer.close();
  return out.sort();
}

describe('joins on the runtime and the embedded log', () => {
  let dir: string;
  let log: Log;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-joins-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });
  afterEach(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function send(topic: string, records: [string, unknown, number][]) {
    const producer = log.producer();
    await producer.send(
      records.map(([k, v, ts]) => ({ topic, key: Buffer.from(k), value: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)), timestamp: ts, headers: {} })),
    );
    await producer.close();
  }

  async function runUntilIdle(application: App): Promise<StreamsRuntime> {
    const runtime = new StreamsRuntime(application, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    await runtime.close();
    return runtime;
  }

  for (const backend of ['sqlite', 'memory'] as const) {
    it(`stream-stream outer join (${backend}): same results as testTopology, with unmatched records held across a restart`, async () => {
      const { orders, payments } = input();
      const flush = flushKeys(3).map((k): [string, string, number] => [k, 'flush', SPAN * 3]);
      const application = outerJoinApp(backend);

      const t = testTopology(application);
      for (const [k, v, ts] of orders) t.input('orders').pipe(k, v, { timestamp: ts });
      for (const [k, v, ts] of payments) t.input('payments').pipe(k, v, { timestamp: ts });
      const before = t.output('paid', { value: serdes.string() }).readAll();
      for (const [k, v, ts] of flush) t.input('orders').pipe(k, v, { timestamp: ts });
      const after = t.output('paid', { value: serdes.string() }).readAll();
      const line = (r: { key: unknown; value: unknown; timestamp: number }) => JSON.stringify([r.key, r.value, r.timestamp]);
      assert.ok(before.length > 100 && before.every((r) => !/-/.test(String(r.value))), `${before.length} matches, no null results before the windows close`);
      assert.ok(after.length > 20 && after.every((r) => /-/.test(String(r.value))), `${after.length} unmatched records once they close`);

      // Payments have fewer partitions: the repartition topic feeding the join takes the orders' count.
      await log.admin.createTopics([{ name: 'orders', partitions: 3 }, { name: 'payments', partitions: 2 }]);
      await send('orders', orders);
      await send('payments', payments);
      await runUntilIdle(application);
      const [repartition] = await log.admin.describeTopics([`pay-join-${backend}-pay-right-repartition`]);
      assert.equal(repartition!.partitions, 3);
      assert.deepEqual(await readAll(log, 'paid'), before.map(line).sort(), 'matches only, while every window is open');
      // A new run: the windows and the held records come back from local state or the changelogs.
      await send('orders', flush);
      const second = await runUntilIdle(application);
      if (backend === 'memory') assert.ok(second.stats().restored > 0, 'memory state is restored from the changelogs');
      assert.deepEqual(await readAll(log, 'paid'), [...before, ...after].map(line).sort());
    });
  }

  for (const maxTaskIdleMs of [0, -1]) {
    it(`a stream-table join ${maxTaskIdleMs === 0 ? 'waits for table updates already in the log (maxTaskIdleMs 0, the default)' : 'with maxTaskIdleMs -1 may run ahead of its table'}`, async () => {
      // Every table update is older than every stream record, and both are in the log before the
      // app starts; polls of 8 records hand out both partitions in turns, so the table's queue runs
      // dry again and again while stream records wait (KIP-695's case).
      const n = 200;
      await log.admin.createTopics([{ name: 'prices', partitions: 1 }, { name: 'sales', partitions: 1 }]);
      await send('prices', Array.from({ length: n }, (_, i): [string, string, number] => [`p${i}`, `${i}`, i]));
      // the first sales are of the last prices
      await send('sales', Array.from({ length: n }, (_, i): [string, string, number] => [`p${n - 1 - i}`, 'sold', 10_000 + i]));
      const application = app(
        `price-join-${maxTaskIdleMs}`,
        (b) => {
          const prices = b.table('prices', { key: serdes.string(), value: serdes.string(), store: 'prices' });
          b.stream('sales', { key: serdes.string(), value: serdes.string() })
            .join(prices, (sale, price) => `${sale}@${price}`)
            .to('priced', { value: serdes.string() });
        },
        { maxPollRecords: 8, maxTaskIdleMs },
      );
      await runUntilIdle(application);
      const joined = (await readAll(log, 'priced')).length;
      if (maxTaskIdleMs === 0) assert.equal(joined, n, 'every sale joined with its price');
      else assert.ok(joined < n, `without waiting, sales run ahead of the prices (${joined} of ${n} joined): the case the wait is for`);
    });
  }

  it('a global table is read before tasks start and followed while they run; it needs no co-partitioning', async () => {
    const application = app('enrich-global', (b) => {
      const products = b.globalTable('products', { key: serdes.string(), value: serdes.string(), store: 'products-store' });
      b.stream('orders', { key: serdes.string(), value: serdes.json<{ product: string }>() })
        .leftJoin(products, (_, o) => o.product, (o, name) => `${o.product}=${name ?? '?'}`)
        .to('enriched', { value: serdes.string() });
    });
    await log.admin.createTopics([{ name: 'products', partitions: 2 }, { name: 'orders', partitions: 3 }]);
    await send('products', Array.from({ length: 20 }, (_, i): [string, string, number] => [`p${i}`, `name${i}`, 1]));
    await send('orders', Array.from({ length: 50 }, (_, i): [string, unknown, number] => [`o${i}`, { product: `p${i % 25}` }, 10 + i]));
    await runUntilIdle(application);

    const t = testTopology(application);
    for (let i = 0; i < 20; i++) t.input('products').pipe(`p${i}`, `name${i}`);
    for (let i = 0; i < 50; i++) t.input('orders').pipe(`o${i}`, { product: `p${i % 25}` }, { timestamp: 10 + i });
    const expected = t.output('enriched', { value: serdes.string() }).readAll().map((r) => JSON.stringify([r.key, r.value, r.timestamp]));
    assert.deepEqual(await readAll(log, 'enriched'), expected.sort());

    // While running: a product appears, then an order for it finds it.
    const runtime = new StreamsRuntime(application, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    await runtime.start();
    await send('products', [['p24', 'late-name', 2]]);
    const products = runtime.store<ReadOnlyKeyValueStore<string, string>>('products-store');
    for (let i = 0; i < 250 && products.get('p24') === undefined; i++) await sleep(20);
    assert.equal(products.get('p24'), 'late-name', 'the running instance applied the new row');
    await send('orders', [['o-new', { product: 'p24' }, 100]]);
    await runtime.waitUntilIdle(150);
    assert.equal([...products.all()].length, 21, 'one copy of the global table, not one per task');
    await runtime.close();
    const lines = await readAll(log, 'enriched');
    assert.ok(lines.includes(JSON.stringify(['o-new', 'p24=late-name', 100])), lines.slice(-3).join('\n'));
  });

  it('refuses to start a stream-stream join whose inputs have different partition counts', async () => {
    const application = app('not-copartitioned', (b) => {
      const l = b.stream('l', { key: serdes.string(), value: serdes.string() });
      l.join(b.stream('r', { key: serdes.string(), value: serdes.string() }), (a, c) => a + c, JoinWindows.ofTimeDifference(10)).to('o', { value: serdes.string() });
    });
    await log.admin.createTopics([{ name: 'l', partitions: 2 }, { name: 'r', partitions: 3 }]);
    const runtime = new StreamsRuntime(application, { log, logger: silentLogger, stateDir: join(dir, 'state') });
    await assert.rejects(runtime.start(), (err: unknown) => err instanceof TopicError && /'l' \(2 partitions\), 'r' \(3 partitions\) are joined/.test((err as Error).message));
  });
});
