/**
 * The demo topology: validate incoming orders, price them, and route them by size.
 *
 *   orders --filter(valid)--> mapValues(price) --split--> large-orders   (total >= 500)
 *                                                    \--> regular-orders
 *   orders that are not valid JSON ---------------------> orders-dlq     (dead-letter topic)
 *
 * Run it: tributary run topologies/order-router.ts
 */
import { app, serdes } from 'tributary';

export interface Order {
  orderId: string;
  customerId: string;
  items: { sku: string; quantity: number; unitPrice: number }[];
  country: string;
}

export interface PricedOrder extends Order {
  subtotal: number;
  vat: number;
  total: number;
}

const VAT_RATES: Record<string, number> = { DE: 0.19, FR: 0.2, NL: 0.21, SE: 0.25 };

const round2 = (n: number) => Math.round(n * 100) / 100;

export function price(order: Order): PricedOrder {
  const subtotal = round2(order.items.reduce((sum, i) => sum + i.quantity * i.unitPrice, 0));
  const vat = round2(subtotal * (VAT_RATES[order.country] ?? 0));
  return { ...order, subtotal, vat, total: round2(subtotal + vat) };
}

export default app(
  'order-router',
  (b) => {
    const bySize = b
      .stream('orders', { key: serdes.string(), value: serdes.json<Order>() })
      .filter((_, o) => Array.isArray(o.items) && o.items.length > 0 && o.items.every((i) => i.quantity > 0))
      .mapValues(price)
      .split({ name: 'size-' })
      .branch((_, o) => o.total >= 500, 'large')
      .defaultBranch('regular');
    bySize['size-large']!.to('large-orders', { value: serdes.json<PricedOrder>() });
    bySize['size-regular']!.to('regular-orders', { value: serdes.json<PricedOrder>() });
  },
  { errors: { deserialization: { deadLetterTopic: 'orders-dlq' } } },
);
