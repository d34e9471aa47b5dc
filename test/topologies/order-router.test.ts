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
