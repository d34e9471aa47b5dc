import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { app, serdes, testTopology, type Processor, type ProcessorContext, type StreamRecord } from '../../src/index.js';

interface Order {
  id: string;
  amount: number;
  items?: string[];
}

const orders = { key: serdes.string(), value: serdes.json<Order>() };

describe('stateless operators through testTopology', () => {
  it('filter and filterNot keep and drop by predicate', () => {
    const t = testTopology(
      app('filters', (b) => {
        const s = b.stream('orders', orders);
        s.filter((_, o) => o.amount > 10).to('big');
        s.filterNot((_, o) => o.amount > 10).to('small');
      }),
    );
    t.input('orders').pipe('a', { id: '1', amount: 5 });
    t.input('orders').pipe('b', { id: '2', amount: 50 });
    assert.deepEqual(t.output('big').readKeyValues(), [['b', { id: '2', amount: 50 }]]);
    assert.deepEqual(t.output('small').readKeyValues(), [['a', { id: '1', amount: 5 }]]);
  });

  it('map, mapValues and selectKey transform keys and values, keeping timestamp and headers', () => {
    const t = testTopology(
      app('maps', (b) => {
        const s = b.stream('orders', orders);
        s.map((k, o) => [o.id, `${k}:${o.amount}`]).to('mapped', { value: serdes.string() });
        s.mapValues((o, k) => ({ key: k, cents: o.amount * 100 })).to('cents');
        s.selectKey((_, o) => o.id).to('rekeyed');
      }),
    );
    t.input('orders').pipe('cust', { id: 'o1', amount: 3 }, { timestamp: 1234, headers: { trace: 'x' } });
    const mapped = t.output('mapped', { value: serdes.string() }).readAll();
    assert.equal(mapped.length, 1);
    assert.equal(mapped[0]!.key, 'o1');
    assert.equal(mapped[0]!.value, 'cust:3');
    assert.equal(mapped[0]!.timestamp, 1234);
    assert.equal(mapped[0]!.headers.trace!.toString(), 'x');
    assert.deepEqual(t.output('cents').readValues(), [{ key: 'cust', cents: 300 }]);
    assert.deepEqual(t.output('rekeyed').readKeyValues(), [['o1', { id: 'o1', amount: 3 }]]);
  });

  it('flatMap and flatMapValues emit zero or more records per input', () => {
    const t = testTopology(
      app('flat', (b) => {
        const s = b.stream('orders', orders);
        s.flatMapValues((o) => o.items ?? []).to('items', { value: serdes.string() });
        s.flatMap((k, o) => (o.items ?? []).map((item, i) => [`${k}-${i}`, item])).to('indexed', { value: serdes.string() });
      }),
    );
    t.input('orders').pipe('c', { id: '1', amount: 1, items: ['x', 'y'] });
    t.input('orders').pipe('d', { id: '2', amount: 1, items: [] });
    assert.deepEqual(t.output('items').readKeyValues(), [['c', 'x'], ['c', 'y']]);
    assert.deepEqual(t.output('indexed').readKeyValues(), [['c-0', 'x'], ['c-1', 'y']]);
  });

  it('peek and foreach see every record; peek passes it on', () => {
    const peeked: string[] = [];
    const seen: number[] = [];
    const t = testTopology(
      app('peek', (b) => {
        const s = b.stream('orders', orders);
        s.peek((k) => peeked.push(k)).to('out');
        s.foreach((_, o) => seen.push(o.amount));
      }),
    );
    t.input('orders').pipe('a', { id: '1', amount: 1 });
    t.input('orders').pipe('b', { id: '2', amount: 2 });
    assert.deepEqual(peeked, ['a', 'b']);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(t.output('out').size, 2);
  });

  it('split sends each record to the first matching branch, else the default', () => {
    const t = testTopology(
      app('split', (b) => {
        const branches = b
          .stream('orders', orders)
          .split({ name: 'size-' })
          .branch((_, o) => o.amount >= 100, 'large')
          .branch((_, o) => o.amount >= 10, 'medium')
          .defaultBranch('small');
        assert.deepEqual(Object.keys(branches).sort(), ['size-large', 'size-medium', 'size-small']);
        branches['size-large']!.to('large');
        branches['size-medium']!.to('medium');
        branches['size-small']!.to('small');
      }),
    );
    for (const amount of [500, 50, 5, 100, 10]) t.input('orders').pipe(`k${amount}`, { id: String(amount), amount });
    assert.deepEqual(t.output('large').readValues().map((o) => o.amount), [500, 100]);
    assert.deepEqual(t.output('medium').readValues().map((o) => o.amount), [50, 10]);
    assert.deepEqual(t.output('small').readValues().map((o) => o.amount), [5]);
  });

  it('split without a default branch drops unmatched records; unnamed branches are numbered', () => {
    const t = testTopology(
      app('split2', (b) => {
        const branches = b.stream('orders', orders).split().branch((_, o) => o.amount > 1).noDefaultBranch();
        assert.deepEqual(Object.keys(branches), ['1']);
        branches['1']!.to('out');
      }),
    );
    t.input('orders').pipe('a', { id: '1', amount: 1 });
    t.input('orders').pipe('b', { id: '2', amount: 2 });
    assert.deepEqual(t.output('out').readKeyValues().map(([k]) => k), ['b']);
  });

  it('merge interleaves two streams', () => {
    const t = testTopology(
      app('merge', (b) => {
        const a = b.stream('a', orders);
        const c = b.stream('c', orders);
        a.merge(c).to('both');
      }),
    );
    t.input('a').pipe('1', { id: 'a', amount: 1 });
    t.input('c').pipe('2', { id: 'c', amount: 2 });
    t.input('a').pipe('3', { id: 'a2', amount: 3 });
    assert.deepEqual(t.output('both').readKeyValues().map(([k]) => k), ['1', '2', '3']);
  });

  it('to() with a topic extractor routes per record and sees the source metadata', () => {
    const t = testTopology(
      app('route', (b) => {
        b.stream('orders', orders).to((_, o, meta) => (o.amount > 10 ? `big-from-${meta?.topic}` : 'rest'));
      }),
    );
    t.input('orders').pipe('a', { id: '1', amount: 50 });
    t.input('orders').pipe('b', { id: '2', amount: 5 });
    assert.equal(t.output('big-from-orders').readAll().length, 1);
    assert.equal(t.output('rest').readAll().length, 1);
  });

  it('repartition goes through an internal topic and a second sub-topology', () => {
    const application = app('rep', (b) => {
      b.stream('orders', orders)
        .selectKey((_, o) => o.id)
        .repartition({ name: 'by-id' })
        .mapValues((o) => o.amount)
        .to('amounts', { value: serdes.int32() });
    });
    const topology = application.topology();
    assert.equal(topology.subtopologies.length, 2);
    assert.ok(topology.isInternalTopic('rep-by-id-repartition'));
    const t = testTopology(application);
    t.input('orders').pipe('c', { id: 'o9', amount: 9 });
    assert.deepEqual(t.output('amounts').readKeyValues(), [['o9', 9]]);
  });

  it('null keys and null values (tombstones) pass through', () => {
    const t = testTopology(app('nulls', (b) => b.stream('in', orders).to('out')));
    t.input('in').pipe(null, { id: '1', amount: 1 });
    t.input('in').pipe('k', null);
    assert.deepEqual(t.output('out').readKeyValues(), [[null, { id: '1', amount: 1 }], ['k', null]]);
  });
});

describe('Processor API', () => {
  class Counter implements Processor<string, Order, string, number> {
    private ctx!: ProcessorContext<string, number>;
    private count = 0;
    init(ctx: ProcessorContext<string, number>) {
      this.ctx = ctx;
      ctx.schedule(1000, 'wall-clock', (ts) => this.ctx.forward({ key: 'wall', value: this.count, timestamp: ts, headers: {} }));
      ctx.schedule(10, 'stream-time', (ts) => this.ctx.forward({ key: 'stream', value: ts, timestamp: ts, headers: {} }));
    }
    process(record: StreamRecord<string, Order>) {
      this.count++;
      const meta = this.ctx.recordMetadata();
      this.ctx.forward({ ...record, value: meta!.offset });
    }
  }

  it('process() runs a custom processor with record metadata and both kinds of punctuation', () => {
    const t = testTopology(
      app('proc', (b) => {
        b.stream('orders', orders).process(() => new Counter()).to('out', { value: serdes.int32() });
      }),
      { startTime: 0 },
    );
    const out = t.output('out', { value: serdes.int32() });
    t.input('orders').pipe('a', { id: '1', amount: 1 }, { timestamp: 5 });
    // stream time 5 >= first stream punctuation at 0: fires with 5, next at 10
    assert.deepEqual(out.readKeyValues(), [['a', 0], ['stream', 5]]);
    t.input('orders').pipe('b', { id: '2', amount: 1 }, { timestamp: 7 });
    assert.deepEqual(out.readKeyValues(), [['b', 1]]);
    t.input('orders').pipe('c', { id: '3', amount: 1 }, { timestamp: 31 });
    // 31 is past 10 and 20 and 30: fires once, not three times
    assert.deepEqual(out.readKeyValues(), [['c', 2], ['stream', 31]]);
    t.advanceWallClockTime(999);
    assert.equal(out.isEmpty(), true);
    t.advanceWallClockTime(1);
    assert.deepEqual(out.readKeyValues(), [['wall', 3]]);
  });

  it('forward to a named child', () => {
    const t = testTopology(
      app('named-child', (b) => {
        const s = b.stream('in', orders);
        const { ['1']: first } = s.split().branch(() => true).noDefaultBranch();
        first!.to('out');
      }),
    );
    t.input('in').pipe('x', { id: '1', amount: 1 });
    assert.equal(t.output('out').size, 1);
  });
});
