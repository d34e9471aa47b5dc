import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { app, serdes, testTopology, TimeWindows, untilWindowCloses, type KeyValueStore, type WindowStore } from '../../src/index.js';

interface Order {
  customer: string;
  amount: number;
}

const orders = { key: serdes.string(), value: serdes.json<Order>() };

describe('aggregations (testTopology)', () => {
  it('groupByKey().count() emits the running count per key and keeps it in a queryable store', () => {
    const t = testTopology(app('count', (b) => b.stream('orders', orders).groupByKey().count({ store: 'counts' }).toStream().to('counts-out')));
    for (const k of ['a', 'b', 'a', 'a']) t.input('orders').pipe(k, { customer: k, amount: 1 });
    assert.deepEqual(t.output('counts-out').readKeyValues(), [['a', 1], ['b', 1], ['a', 2], ['a', 3]]);
    const store = t.store<KeyValueStore<string, number>>('counts');
    assert.equal(store.get('a'), 3);
    assert.deepEqual([...store.all()].map((e) => [e.key, e.value]), [['a', 3], ['b', 1]]);
  });

  it('groupBy re-keys through a repartition topic; aggregate folds with an initializer; null keys are dropped and counted', () => {
    const application = app('totals', (b) => {
      b.stream('orders', orders)
        .groupBy((_, o) => o.customer)
        .aggregate(() => ({ n: 0, total: 0 }), (_, o, a) => ({ n: a.n + 1, total: a.total + o.amount }), { store: 'customer-totals' })
        .toStream()
        .to('customer-totals');
    });
    assert.ok(application.topology().isInternalTopic('totals-KSTREAM-GROUPBY-0000000002-repartition') || application.topology().internalTopics.some((t) => t.kind === 'repartition'));
    const t = testTopology(application);
    t.input('orders').pipe('o1', { customer: 'c1', amount: 10 });
    t.input('orders').pipe('o2', { customer: 'c2', amount: 5 });
    t.input('orders').pipe('o3', { customer: 'c1', amount: 7 });
    assert.deepEqual(t.output('customer-totals').readKeyValuesToMap(), new Map([['c1', { n: 2, total: 17 }], ['c2', { n: 1, total: 5 }]]));
    const t2 = testTopology(app('nullkey', (b) => b.stream('orders', orders).groupByKey().count().toStream().to('out')));
    t2.input('orders').pipe(null, { customer: 'x', amount: 1 });
    assert.equal(t2.output('out').size, 0);
    assert.deepEqual(t2.droppedRecords(), { 'null-key': 1 });
  });

  it('reduce keeps the first value and folds the rest', () => {
    const t = testTopology(app('max', (b) => b.stream('orders', orders).mapValues((o) => o.amount).groupByKey().reduce((a, v) => Math.max(a, v), { value: serdes.float64() }).toStream().to('max', { value: serdes.float64() })));
    for (const [k, v] of [['a', 3], ['a', 9], ['a', 4], ['b', 1]] as const) t.input('orders').pipe(k, { customer: k, amount: v });
    assert.deepEqual(t.output('max').readKeyValues(), [['a', 3], ['a', 9], ['a', 9], ['b', 1]]);
  });

  it('tables: b.table upserts and deletes; filter and mapValues propagate changes and tombstones', () => {
    const t = testTopology(
      app('tables', (b) => {
        b.table('prices', { key: serdes.string(), value: serdes.json<number>(), store: 'prices-store' })
          .filter((_, p) => p > 10)
          .mapValues((p) => p * 2)
          .toStream()
          .to('expensive-doubled');
      }),
    );
    const prices = t.input('prices');
    prices.pipe('x', 5); // filtered out: nothing emitted (neither new nor old passes)
    prices.pipe('y', 20);
    prices.pipe('y', 8); // stops passing: a delete downstream
    prices.pipe('z', 30);
    prices.pipe('z', null); // tombstone
    assert.deepEqual(t.output('expensive-doubled').readKeyValues(), [['y', 40], ['y', null], ['z', 60], ['z', null]]);
    assert.equal(t.store<KeyValueStore<string, number>>('prices-store').get('y'), 8);
    assert.equal(t.store<KeyValueStore<string, number>>('prices-store').get('z'), undefined);
  });

  it('stream-table join and leftJoin look up the current table value', () => {
    const t = testTopology(
      app('enrich', (b) => {
        const customers = b.table('customers', { key: serdes.string(), value: serdes.json<{ name: string }>() });
        const s = b.stream('orders', orders);
        s.join(customers, (o, c) => `${c.name}:${o.amount}`).to('joined', { value: serdes.string() });
        s.leftJoin(customers, (o, c) => `${c?.name ?? '?'}:${o.amount}`).to('left-joined', { value: serdes.string() });
      }),
    );
    t.input('orders').pipe('c1', { customer: 'c1', amount: 1 });
    t.input('customers').pipe('c1', { name: 'Ada' });
    t.input('orders').pipe('c1', { customer: 'c1', amount: 2 });
    t.input('customers').pipe('c1', null);
    t.input('orders').pipe('c1', { customer: 'c1', amount: 3 });
    assert.deepEqual(t.output('joined').readValues(), ['Ada:2']);
    assert.deepEqual(t.output('left-joined').readValues(), ['?:1', 'Ada:2', '?:3']);
  });

  it('tumbling windows count per key and window; late records beyond grace are dropped and counted', () => {
    const t = testTopology(
      app('windows', (b) => {
        b.stream('orders', orders)
          .groupByKey()
          .windowedBy(TimeWindows.ofSize(10).grace(5))
          .count({ store: 'win-counts' })
          .toStream()
          .map((w, n) => [`${w.key}@${w.window.start}-${w.window.end}`, n])
          .to('window-counts', { key: serdes.string(), value: serdes.int32() });
      }),
    );
    const pipe = (k: string, ts: number) => t.input('orders').pipe(k, { customer: k, amount: 1 }, { timestamp: ts });
    pipe('a', 1);
    pipe('a', 9);
    pipe('a', 10);
    pipe('b', 12);
    pipe('a', 3); // stream time 12, window [0,10) closes at 10+5=15: still open
    pipe('a', 21); // stream time 21: window [0,10) closed
    pipe('a', 4); // late: dropped
    assert.deepEqual(t.output('window-counts', { value: serdes.int32() }).readKeyValues(), [
      ['a@0-10', 1],
      ['a@0-10', 2],
      ['a@10-20', 1],
      ['b@10-20', 1],
      ['a@0-10', 3],
      ['a@20-30', 1],
    ]);
    assert.deepEqual(t.droppedRecords(), { 'late-record': 1 });
    assert.equal(t.store<WindowStore<string, number>>('win-counts').fetch('a', 10), 1);
    const range = [...t.store<WindowStore<string, number>>('win-counts').fetch('a', 0, 30)];
    assert.deepEqual(range, [{ windowStart: 0, value: 3 }, { windowStart: 10, value: 1 }, { windowStart: 20, value: 1 }]);
    assert.deepEqual([...t.store<WindowStore<string, number>>('win-counts').fetchAll(10, 10)].map((e) => [e.key.key, e.value]), [['a', 1], ['b', 1]]);
  });

  it('hopping windows put a record in every window it falls in', () => {
    const t = testTopology(app('hop', (b) => b.stream('orders', orders).groupByKey().windowedBy(TimeWindows.ofSize(10).advanceBy(5)).count().toStream().map((w, n) => [`${w.window.start}`, n]).to('out', { value: serdes.int32() })));
    t.input('orders').pipe('a', { customer: 'a', amount: 1 }, { timestamp: 7 });
    assert.deepEqual(t.output('out', { value: serdes.int32() }).readKeyValues(), [['0', 1], ['5', 1]]);
  });

  it('suppress(untilWindowCloses()) emits one final result per window', () => {
    const t = testTopology(
      app('final', (b) => {
        b.stream('orders', orders)
          .groupByKey()
          .windowedBy(TimeWindows.ofSize(10).grace(2))
          .count()
          .suppress(untilWindowCloses())
          .toStream()
          .map((w, n) => [`${w.key}@${w.window.start}`, n])
          .to('final', { value: serdes.int32() });
      }),
    );
    const pipe = (k: string, ts: number) => t.input('orders').pipe(k, { customer: k, amount: 1 }, { timestamp: ts });
    pipe('a', 1);
    pipe('a', 5);
    pipe('b', 8);
    const out = t.output('final', { value: serdes.int32() });
    assert.deepEqual(out.readKeyValues(), []);
    pipe('a', 11); // stream time 11 < 10 + 2
    assert.deepEqual(out.readKeyValues(), []);
    pipe('a', 12); // closes [0,10)
    assert.deepEqual(out.readKeyValues(), [['a@0', 2], ['b@0', 1]]);
    pipe('a', 30);
    assert.deepEqual(out.readKeyValues(), [['a@10', 2]]);
  });
});
