/**
 * Stateful demo: per-customer totals (a KTable in a persistent store, queryable by name) and
 * orders per country per 10 minutes of event time, emitted once each window closes.
 *
 *   orders --groupBy(customer)--> aggregate --> customer-totals
 *   orders --groupBy(country)--> 10-min windows + 1 min grace --> count --suppress--> orders-per-country-10min
 *
 * Run it: tributary run topologies/order-stats.ts
 */
import { app, serdes, TimeWindows, untilWindowCloses } from 'tributary';
import { price, type Order } from './order-router.js';

export interface CustomerTotals {
  orders: number;
  revenue: number;
}

export default app('order-stats', (b) => {
  const orders = b
    .stream('orders', { key: serdes.string(), value: serdes.json<Order>() })
    .filter((_, o) => Array.isArray(o.items) && o.items.length > 0)
    .mapValues(price);

  orders
    .groupBy((_, o) => o.customerId)
    .aggregate<CustomerTotals>(
      () => ({ orders: 0, revenue: 0 }),
      (_, o, t) => ({ orders: t.orders + 1, revenue: Math.round((t.revenue + o.total) * 100) / 100 }),
      { store: 'customer-totals' },
    )
    .toStream()
    .to('customer-totals');

  orders
    .groupBy((_, o) => o.country)
    .windowedBy(TimeWindows.ofSize(600_000).grace(60_000))
    .count({ store: 'orders-per-country-10min' })
    .suppress(untilWindowCloses())
    .toStream()
    .map((w, n) => [`${w.key} ${new Date(w.window.start).toISOString().slice(0, 16)}`, n])
    .to('orders-per-country-10min', { value: serdes.int32() });
}, { errors: { deserialization: 'continue' } });
