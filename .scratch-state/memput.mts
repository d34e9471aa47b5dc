import sortedBtree from 'sorted-btree';
import { openTaskStateBackend } from '../src/state/backend/index.js';
const BTree = (sortedBtree as any).default as typeof sortedBtree.default;
const keys = Array.from({ length: 10000 }, (_, i) => Buffer.from(`customer-${String(i).padStart(7, '0')}`));
const vals = Array.from({ length: 16 }, (_, i) => Buffer.alloc(100, 65 + i));
let x = 12345; const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 4294967296);
const batches = Array.from({ length: 200 }, (_, b) => Array.from({ length: 5000 }, (_, i) => ({ store: 'x', key: keys[Math.floor(rnd() * 10000)]!, value: vals[i % 16]! })));
for (let r = 0; r < 2; r++) {
  { const t = new BTree<Buffer, Buffer>(undefined, Buffer.compare); const s = performance.now();
    for (const b of batches) for (const w of b) t.set(w.key, w.value);
    console.log('raw set', Math.round(1e6 / (performance.now() - s) * 1000)); }
  { const t = new BTree<Buffer, Buffer>(undefined, Buffer.compare); const s = performance.now();
    for (const b of batches) for (const w of b) t.set(Buffer.from(w.key), Buffer.from(w.value));
    console.log('set with copies', Math.round(1e6 / (performance.now() - s) * 1000)); }
  { const t = new BTree<Buffer, Buffer>(undefined, Buffer.compare); const s = performance.now();
    for (const b of batches) for (const w of b) { if (!t.changeIfPresent(w.key, Buffer.from(w.value))) t.set(Buffer.from(w.key), Buffer.from(w.value)); }
    console.log('changeIfPresent + copy value', Math.round(1e6 / (performance.now() - s) * 1000)); }
  { const be = await openTaskStateBackend({ kind: 'memory', dir: '' }); const s = performance.now();
    for (const b of batches) await be.write(b, [], { a: 1 });
    console.log('backend', Math.round(1e6 / (performance.now() - s) * 1000)); }
}
