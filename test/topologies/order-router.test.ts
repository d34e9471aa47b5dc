import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serdes, testTopology } from '../../src/index.js';
import orderRouter, { price, type Order } from '../../topologies/order-router.js';

const order = (id: string, items: Order['items'], country = 'DE'): Order => ({ orderId: id, customerId: 'c1', items, country });

describe('topologies/order-router.ts', () => {
  it('prices valid orders and routes them by total; drops invalid ones', () => {
    const t = testTopology(orderRouter);
    const input = t.input('orders');
    input.pipe('c1', order('o1', [{ sku: 'sofa', quantity: 1, unitPrice: 799 }]));
    input.pipe('c1', order('o2', [{ sku: 'mug', quantity: 2, unitPrice: 7.5 }], 'SE'));
    input.pipe('c1', order('o3', [{ sku: 'mug', quantity: 0, unitPrice: 7.5 }]));
    input.pipe('c1', order('o4', []));
    const large = t.output('large-orders').readValues();
    const regular = t.output('regular-orders').readValues();
    assert.deepEqual(large.map((o) => [o.orderId, o.total]), [['o1', 950.81]]);
    assert.deepEqual(regular.map((o) => [o.orderId, o.subtotal, o.vat, o.total]), [['o2', 15, 3.75, 18.75]]);
  });

  it('sends records that are not JSON to the dead-letter topic', () => {
    const t = testTopology(orderRouter);
    t.input('orders', { value: serdes.string() }).pipe('c9', '{"orderId": ');
    const dead = t.output('orders-dlq', { value: serdes.string() }).readAll();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.value, '{"orderId": ');
    assert.match(dead[0]!.headers['tributary.error.message']!.toString(), /invalid JSON/);
  });

  it('price() rounds to cents and uses the country VAT rate', () => {
    assert.deepEqual(price(order('x', [{ sku: 'a', quantity: 3, unitPrice: 0.1 }], 'NL')).total, 0.36);
  });
});

describe('topologies/order-stats.ts', () => {
  it('keeps running totals per customer and emits 10-minute country counts once the window closes', async () => {
    const { default: orderStats } = await import('../../topologies/order-stats.js');
    const t = testTopology(orderStats);
    const window = 600_000;
    const o = (id: string, customerId: string, country: string, unitPrice: number): Order => ({ orderId: id, customerId, country, items: [{ sku: 'x', quantity: 1, unitPrice }] });
    t.input('orders').pipe('c1', o('1', 'c1', 'DE', 100), { timestamp: 0 });
    t.input('orders').pipe('c2', o('2', 'c2', 'SE', 10), { timestamp: 1 * 60_000 });
    t.input('orders').pipe('c1', o('3', 'c1', 'DE', 50), { timestamp: 5 * 60_000 });
    assert.deepEqual(t.output('customer-totals').readKeyValuesToMap(), new Map([['c1', { orders: 2, revenue: 178.5 }], ['c2', { orders: 1, revenue: 12.5 }]]));
    const hourly = t.output('orders-per-country-10min', { value: serdes.int32() });
    assert.equal(hourly.size, 0, 'nothing before the window closes');
    t.input('orders').pipe('c3', o('4', 'c3', 'FR', 1), { timestamp: window + 60_000 });
    assert.deepEqual(hourly.readKeyValues(), [['DE 1970-01-01T00:00', 2], ['SE 1970-01-01T00:00', 1]]);
  });
});
