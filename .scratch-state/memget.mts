import { openTaskStateBackend } from '../src/state/backend/index.js';
const b = await openTaskStateBackend({ kind: 'memory', dir: '' });
const s = b.store('x');
const keys = Array.from({ length: 10000 }, (_, i) => Buffer.from(`customer-${String(i).padStart(7, '0')}`));
await b.write(keys.map((key) => ({ store: 'x', key, value: Buffer.alloc(100, 65) })), [], {});
const probe = Array.from({ length: 4096 }, (_, i) => keys[(i * 7919) % 10000]!);
for (let r = 0; r < 3; r++) {
  const t = performance.now(); let f = 0;
  for (let i = 0; i < 1_000_000; i++) if (s.get(probe[i & 4095]!) !== undefined) f++;
  console.log('get', Math.round(1_000_000 / (performance.now() - t) * 1000));
}
