/**
 * Joins and table re-grouping in Kafka Streams' style (KStreamKStreamJoinTest,
 * KStreamKStreamLeftJoinTest, KTableKTableInnerJoinTest...), on testTopology.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { app, JoinWindows, serdes, testTopology, TopologyError, type KeyValueStore } from '../../src/index.js';

const str = { key: serdes.string(), value: serdes.string() };

describe('KStream-KStream join', () => {
  const joined = (kind: 'join' | 'leftJoin' | 'outerJoin', windows: JoinWindows) =>
    app(`ss-${kind}`, (b) => {
      const left = b.stream('left', str);
      const right = b.stream('right', str);
      const joiner = (l: string | null, r: string | null) => `${l ?? 'null'}+${r ?? 'null'}`;
      (kind === 'join' ? left.join(right, joiner, windows) : kind === 'leftJoin' ? left.leftJoin(right, joiner, windows) : left.outerJoin(right, joiner, windows)).to('out', str);
    });

  it('joins records of the same key within the window, in both directions, stamped with the later time', () => {
    const t = testTopology(joined('join', JoinWindows.ofTimeDifference(100).grace(1000)));
    const out = t.output('out', str);
    t.input('left').pipe('k0', 'A0', { timestamp: 1000 });
    t.input('left').pipe('k1', 'A1', { timestamp: 1000 });
    assert.deepEqual(out.readAll(), []);
    t.input('right').pipe('k0', 'a0', { timestamp: 1100 }); // exactly at the upper bound: joins
    t.input('right').pipe('k1', 'a1', { timestamp: 1101 }); // 101 ms later: outside
    t.input('right').pipe('k2', 'a2', { timestamp: 1000 }); // no left record of k2
    assert.deepEqual(out.readAll().map((r) => [r.key, r.value, r.timestamp]), [['k0', 'A0+a0', 1100]]);
    // Out of order, earlier than the left record: joins when within `before`.
    t.input('right').pipe('k1', 'b1', { timestamp: 900 });
    t.input('right').pipe('k1', 'c1', { timestamp: 899 });
    assert.deepEqual(out.readAll().map((r) => [r.key, r.value, r.timestamp]), [['k1', 'A1+b1', 1000]]);
    // A new left record joins every buffered right record in its window, in time order.
    t.input('left').pipe('k1', 'B1', { timestamp: 995 });
    assert.deepEqual(out.readAll().map((r) => [r.key, r.value, r.timestamp]), [['k1', 'B1+c1', 995], ['k1', 'B1+b1', 995]]);
  });

  it('honours asymmetric windows: before() bounds earlier other-side records, after() later ones', () => {
    const t = testTopology(joined('join', JoinWindows.ofTimeDifference(0).before(10).after(3).grace(100)));
    const out = t.output('out', str);
    t.input('left').pipe('k', 'L', { timestamp: 50 });
    for (const ts of [39, 40, 53, 54]) t.input('right').pipe('k', `r${ts}`, { timestamp: ts });
    assert.deepEqual(out.readValues(), ['L+r40', 'L+r53']);
  });

  it('leftJoin emits an unmatched record with null only once its window has closed (no spurious results)', () => {
    const t = testTopology(joined('leftJoin', JoinWindows.ofTimeDifference(10).grace(5)));
    const out = t.output('out', str);
    t.input('left').pipe('a', 'A', { timestamp: 0 });
    t.input('left').pipe('b', 'B', { timestamp: 2 });
    t.input('right').pipe('b', 'b', { timestamp: 12 }); // joins B (12 - 2 <= 10): B is never emitted with null
    assert.deepEqual(out.readAll().map((r) => [r.key, r.value, r.timestamp]), [['b', 'B+b', 12]]);
    t.input('right').pipe('x', 'x', { timestamp: 15 }); // stream time 15 = 0 + 10 + 5: A's window is still open
    assert.deepEqual(out.readAll(), []);
    t.input('right').pipe('x', 'y', { timestamp: 16 }); // closes A's window
    assert.deepEqual(out.readAll().map((r) => [r.key, r.value, r.timestamp]), [['a', 'A+null', 0]]);
    // An out-of-order left record within grace waits too, and is matched by a later right record.
    t.input('left').pipe('c', 'C', { timestamp: 12 });
    t.input('right').pipe('c', 'c', { timestamp: 13 });
    assert.deepEqual(out.readKeyValues(), [['c', 'C+c']]);
    // Right records never produce null results in a left join.
    t.input('left').pipe('z', 'Z', { timestamp: 100 });
    assert.deepEqual(out.readKeyValues(), []);
    assert.deepEqual(t.droppedRecords(), {});
  });

  it('outerJoin emits the unmatched records of both sides after their windows close, oldest first', () => {
    const t = testTopology(joined('outerJoin', JoinWindows.ofTimeDifference(5).grace(0)));
    const out = t.output('out', str);
    t.input('left').pipe('a', 'A', { timestamp: 1 });
    t.input('right').pipe('b', 'b', { timestamp: 2 });
    t.input('right').pipe('a', 'a', { timestamp: 3 }); // joins A
    t.input('left').pipe('c', 'C', { timestamp: 4 });
    assert.deepEqual(out.readKeyValues(), [['a', 'A+a']]);
    t.input('left').pipe('d', 'D', { timestamp: 20 });
    assert.deepEqual(out.readAll().map((r) => [r.key, r.value, r.timestamp]), [
      ['b', 'null+b', 2],
      ['c', 'C+null', 4],
    ]);
  });

  it('keeps duplicates: two records with the same key and timestamp both join', () => {
    const t = testTopology(joined('join', JoinWindows.ofTimeDifference(5)));
    t.input('left').pipe('k', 'A', { timestamp: 10 });
    t.input('left').pipe('k', 'B', { timestamp: 10 });
    t.input('right').pipe('k', 'x', { timestamp: 10 });
    assert.deepEqual(t.output('out', str).readValues().sort(), ['A+x', 'B+x']);
  });

  it('drops records with a null key or value; a left join still emits a null-key left record with null', () => {
    const t = testTopology(joined('leftJoin', JoinWindows.ofTimeDifference(5)));
    t.input('left').pipe(null, 'A', { timestamp: 1 });
    t.input('left').pipe('k', null, { timestamp: 1 });
    t.input('right').pipe(null, 'b', { timestamp: 1 });
    assert.deepEqual(t.output('out', str).readKeyValues(), [[null, 'A+null']]);
    assert.deepEqual(t.droppedRecords(), { 'null-key-or-value': 2 });
  });

  it('repartitions a side whose key changed, so both sides are co-partitioned', () => {
    const application = app('ss-rekey', (b) => {
      const orders = b.stream('orders', { key: serdes.string(), value: serdes.json<{ user: string; n: number }>() });
      const payments = b.stream('payments', { key: serdes.string(), value: serdes.json<{ user: string; paid: number }>() });
      orders
        .selectKey((_, o) => o.user)
        .join(payments, (o, p) => `${o.n}/${p.paid}`, JoinWindows.ofTimeDifference(10), { name: 'pay', key: serdes.string(), value: serdes.json() })
        .to('joined', { value: serdes.string() });
    });
    const topology = application.topology();
    assert.ok(topology.isInternalTopic('ss-rekey-pay-left-repartition'), topology.describe());
    assert.ok(!topology.internalTopics.some((t) => t.name.includes('pay-right')));
    assert.deepEqual(topology.copartitionGroups.map((g) => [...g].sort()), [['payments', 'ss-rekey-pay-left-repartition']]);
    assert.ok(topology.stores.has('pay-this-join-store') || [...topology.stores.keys()].some((s) => s.startsWith('pay-this-join')));
    const t = testTopology(application);
    t.input('orders').pipe('o1', { user: 'u1', n: 1 }, { timestamp: 5 });
    t.input('payments').pipe('u1', { user: 'u1', paid: 9 }, { timestamp: 7 });
    t.input('payments').pipe('o1', { user: 'o1', paid: 1 }, { timestamp: 7 });
    assert.deepEqual(t.output('joined', { value: serdes.string() }).readKeyValues(), [['u1', '1/9']]);
  });

  it('names stores from StreamJoined and needs JoinWindows', () => {
    const application = app('ss-named', (b) => {
      const l = b.stream('l', str);
      l.leftJoin(b.stream('r', str), (a, c) => `${a}${c}`, JoinWindows.ofTimeDifference(1), { store: 'pairs', name: 'pairing' }).to('o', str);
    });
    const stores = [...application.topology().stores.keys()];
    assert.deepEqual(stores.sort(), ['pairs-other-join-store', 'pairs-outer-shared-join-store', 'pairs-this-join-store']);
    assert.throws(
      () => app('no-windows', (b) => b.stream('l', str).join(b.stream('r', str), (a: string, c: string) => a + c, undefined as unknown as JoinWindows)).topology(),
      (err: unknown) => err instanceof TopologyError && /JoinWindows/.test((err as Error).message),
    );
  });
});

describe('KTable-KTable join', () => {
  const tables = (kind: 'join' | 'leftJoin' | 'outerJoin') =>
    app(`tt-${kind}`, (b) => {
      const left = b.table('left', str);
      const right = b.table('right', str);
      const joiner = (l: string | null, r: string | null) => `${l ?? 'null'}+${r ?? 'null'}`;
      const result = kind === 'join' ? left.join(right, joiner, { store: 'result' }) : kind === 'leftJoin' ? left.leftJoin(right, joiner, { store: 'result' }) : left.outerJoin(right, joiner, { store: 'result' });
      result.toStream().to('out', str);
    });

  it('inner: a result for keys in both tables, updated from either side; a tombstone on either side retracts it', () => {
    const t = testTopology(tables('join'));
    const out = t.output('out', str);
    t.input('left').pipe('k', 'A');
    assert.deepEqual(out.readKeyValues(), []);
    t.input('right').pipe('k', 'a');
    t.input('left').pipe('k', 'B');
    t.input('right').pipe('k', null);
    assert.deepEqual(out.readKeyValues(), [['k', 'A+a'], ['k', 'B+a'], ['k', null]]);
    t.input('left').pipe('k', null); // nothing left to retract
    t.input('right').pipe('k', 'b'); // left is gone
    assert.deepEqual(out.readKeyValues(), []);
    t.input('left').pipe('k', 'C');
    t.input('left').pipe('k', null);
    assert.deepEqual(out.readKeyValues(), [['k', 'C+b'], ['k', null]]);
    assert.equal(t.store<KeyValueStore<string, string>>('result').get('k'), undefined);
  });

  it('left: every key of the left table; a right tombstone joins with null, a left tombstone retracts', () => {
    const t = testTopology(tables('leftJoin'));
    const out = t.output('out', str);
    t.input('right').pipe('k', 'a'); // no left row: nothing
    t.input('left').pipe('k', 'A');
    t.input('right').pipe('k', null);
    t.input('right').pipe('k', 'b');
    t.input('left').pipe('k', null);
    assert.deepEqual(out.readKeyValues(), [['k', 'A+a'], ['k', 'A+null'], ['k', 'A+b'], ['k', null]]);
  });

  it('outer: every key of either table; the result goes away only when both sides are gone', () => {
    const t = testTopology(tables('outerJoin'));
    const out = t.output('out', str);
    t.input('right').pipe('k', 'a');
    t.input('left').pipe('k', 'A');
    t.input('right').pipe('k', null);
    t.input('left').pipe('k', null);
    assert.deepEqual(out.readKeyValues(), [['k', 'null+a'], ['k', 'A+a'], ['k', 'A+null'], ['k', null]]);
    assert.equal(t.store<KeyValueStore<string, string>>('result').get('k'), undefined);
  });

  it('declares its two input tables co-partitioned', () => {
    assert.deepEqual(tables('join').topology().copartitionGroups.map((g) => [...g].sort()), [['left', 'right']]);
  });

  it('the result is a table: it can be filtered and re-joined', () => {
    const t = testTopology(
      app('tt-chain', (b) => {
        const a = b.table('a', str);
        const c = b.table('c', str);
        a.join(c, (x, y) => x + y, { value: serdes.string() })
          .filter((_, v) => v.length > 2)
          .leftJoin(b.table('d', str), (x, y) => `${x}|${y ?? '-'}`, { value: serdes.string() })
          .toStream()
          .to('out', str);
      }),
    );
    t.input('a').pipe('k', 'ab');
    t.input('c').pipe('k', 'c');
    t.input('d').pipe('k', 'D');
    t.input('c').pipe('k', ''); // 'ab' + '' fails the filter: a delete downstream
    assert.deepEqual(t.output('out', str).readKeyValues(), [['k', 'abc|-'], ['k', 'abc|D'], ['k', null]]);
  });
});

describe('KTable.groupBy', () => {
  interface User {
    region: string;
    score: number;
  }
  const users = { key: serdes.string(), value: serdes.json<User>() };

  it('moves a row from one group to another: the subtractor runs on the old group, then the adder on the new one', () => {
    const calls: string[] = [];
    const t = testTopology(
      app('regroup', (b) => {
        b.table('users', users)
          .groupBy((_, u) => [u.region, u.score] as const, { key: serdes.string(), value: serdes.json<number>() })
          .aggregate(
            () => 0,
            (region, score, sum) => (calls.push(`+${region}:${score}`), sum + score),
            (region, score, sum) => (calls.push(`-${region}:${score}`), sum - score),
            { store: 'score-by-region', value: serdes.json<number>() },
          )
          .toStream()
          .to('scores', { value: serdes.json<number>() });
      }),
    );
    const out = t.output('scores', { value: serdes.json<number>() });
    t.input('users').pipe('alice', { region: 'eu', score: 5 });
    t.input('users').pipe('bob', { region: 'eu', score: 3 });
    assert.deepEqual(out.readKeyValues(), [['eu', 5], ['eu', 8]]);
    calls.length = 0;
    t.input('users').pipe('alice', { region: 'us', score: 5 }); // moves from eu to us
    assert.deepEqual(calls, ['-eu:5', '+us:5']);
    assert.deepEqual(out.readKeyValues(), [['eu', 3], ['us', 5]]);
    calls.length = 0;
    t.input('users').pipe('bob', { region: 'eu', score: 4 }); // same group: one update, subtract then add
    assert.deepEqual(calls, ['-eu:3', '+eu:4']);
    assert.deepEqual(out.readKeyValues(), [['eu', 4]]);
    t.input('users').pipe('bob', null); // a tombstone leaves the group
    assert.deepEqual(out.readKeyValues(), [['eu', 0]]);
    const store = t.store<KeyValueStore<string, number>>('score-by-region');
    assert.equal(store.get('us'), 5);
    assert.equal(store.get('eu'), 0);
  });

  it('count() and reduce(adder, subtractor) follow rows between groups', () => {
    const t = testTopology(
      app('regroup-count', (b) => {
        const table = b.table('users', users);
        table.groupBy((_, u) => [u.region, u], { value: serdes.json<User>(), name: 'by-region' }).count({ store: 'counts' }).toStream().to('counts', { value: serdes.json<number>() });
        table
          .groupBy((_, u) => [u.region, u.score], { value: serdes.float64() })
          .reduce((a, v) => a + v, (a, v) => a - v, { store: 'sums' })
          .toStream()
          .to('sums', { value: serdes.float64() });
      }),
    );
    assert.ok(t.topology.isInternalTopic('regroup-count-by-region-repartition'));
    t.input('users').pipe('a', { region: 'x', score: 1 });
    t.input('users').pipe('b', { region: 'x', score: 2 });
    t.input('users').pipe('a', { region: 'y', score: 10 });
    t.input('users').pipe('b', null);
    assert.deepEqual(t.output('counts', { value: serdes.json<number>() }).readKeyValues(), [['x', 1], ['x', 2], ['x', 1], ['y', 1], ['x', 0]]);
    assert.deepEqual(t.output('sums', { value: serdes.float64() }).readKeyValues(), [['x', 1], ['x', 3], ['x', 2], ['y', 10], ['x', 0]]);
  });
});

describe('GlobalKTable', () => {
  interface Order {
    product: string;
    qty: number;
  }
  const application = app('global', (b) => {
    const products = b.globalTable('products', { key: serdes.string(), value: serdes.json<{ name: string }>(), store: 'products-store' });
    const orders = b.stream('orders', { key: serdes.string(), value: serdes.json<Order>() });
    orders.join(products, (_, o) => o.product, (o, p) => `${o.qty}x${p.name}`).to('joined', { value: serdes.string() });
    orders.leftJoin(products, (_, o) => o.product, (o, p) => `${o.qty}x${p?.name ?? '?'}`).to('left-joined', { value: serdes.string() });
  });

  it('joins each record with the row its key selector names; no repartition and no task of its own', () => {
    const topology = application.topology();
    assert.equal(topology.internalTopics.length, 0);
    assert.equal(topology.subtopologies.length, 1);
    const t = testTopology(application);
    t.input('orders').pipe('o1', { product: 'p1', qty: 2 });
    t.input('products').pipe('p1', { name: 'pen' });
    t.input('orders').pipe('o2', { product: 'p1', qty: 3 });
    t.input('products').pipe('p1', null);
    t.input('orders').pipe('o3', { product: 'p1', qty: 4 });
    assert.deepEqual(t.output('joined', { value: serdes.string() }).readKeyValues(), [['o2', '3xpen']]);
    assert.deepEqual(t.output('left-joined', { value: serdes.string() }).readKeyValues(), [['o1', '2x?'], ['o2', '3xpen'], ['o3', '4x?']]);
    t.input('products').pipe('p2', { name: 'ink' });
    assert.deepEqual(t.store<KeyValueStore<string, { name: string }>>('products-store').get('p2'), { name: 'ink' });
  });

  it('is read-only for processors and reads a topic one way only', () => {
    assert.throws(() => app('twice', (b) => (b.globalTable('g'), b.stream('g').to('o'))).topology(), /already read by globalTable/);
    assert.throws(() => app('twice2', (b) => (b.stream('g').to('o'), b.globalTable('g'))).topology(), /already read by stream/);
    const writer = app('writer', (b) => {
      b.globalTable('g', { store: 'g-store' });
      b.stream('s')
        .process(() => {
          let ctx: { getStateStore<S>(n: string): S };
          return {
            init: (c) => void (ctx = c),
            process: () => ctx.getStateStore<KeyValueStore<string, unknown>>('g-store').put('x', 1),
          };
        })
        .to('o');
    });
    const t = testTopology(writer);
    assert.throws(() => t.input('s').pipe('k', 1), /read-only/);
  });
});
