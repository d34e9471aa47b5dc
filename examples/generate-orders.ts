/**
 * Demo data for topologies/order-router.ts: JSON lines for `tributary produce orders`.
 * Deterministic for a seed, so a run can be checked against expected figures.
 *
 *   node --import tsx examples/generate-orders.ts --count 1000 --seed 42
 */
import { parseArgs } from 'node:util';
import { seededRandom as prng } from './prng.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '42' },
    customers: { type: 'string', default: '50' },
  },
});


const random = prng(Number(values.seed));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const countries = ['DE', 'FR', 'NL', 'SE'] as const;
const skus = ['kettle', 'lamp', 'chair', 'desk', 'sofa', 'mug', 'rug'] as const;
const prices: Record<string, number> = { kettle: 39.9, lamp: 24.5, chair: 89, desk: 249, sofa: 799, mug: 7.5, rug: 129 };
const count = Number(values.count);
const customers = Number(values.customers);
const start = Date.UTC(2026, 0, 1);
const out: string[] = [];
for (let i = 0; i < count; i++) {
  const customerId = `c${String(Math.floor(random() * customers)).padStart(3, '0')}`;
  const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
    const sku = pick(skus);
    // About one order in twenty has a zero quantity and is filtered out as invalid.
    const quantity = random() < 0.05 ? 0 : 1 + Math.floor(random() * 3);
    return { sku, quantity, unitPrice: prices[sku]! };
  });
  const value = { orderId: `o${i}`, customerId, items, country: pick(countries) };
  out.push(JSON.stringify({ key: customerId, value, timestamp: start + i * 1000 }));
  if (out.length >= 1000) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}
if (out.length > 0) process.stdout.write(out.join('\n') + '\n');
