import sortedBtree from 'sorted-btree';
const BTree = (sortedBtree as any).default as typeof sortedBtree.default;
const keys = Array.from({ length: 10000 }, (_, i) => Buffer.from(`customer-${String(i).padStart(7, '0')}`));
function jsCompare(a: Buffer, b: Buffer): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) { const d = a[i]! - b[i]!; if (d !== 0) return d; }
  return a.length - b.length;
}
const cmpCompare = (a: Buffer, b: Buffer) => a.compare(b);
for (const [name, cmp] of [['Buffer.compare', Buffer.compare], ['js', jsCompare], ['a.compare(b)', cmpCompare]] as const) {
  const t = new BTree<Buffer, Buffer>(undefined, cmp as any);
  for (const k of keys) t.set(k, k);
  const probe = Array.from({ length: 4096 }, (_, i) => keys[(i * 7919) % 10000]!);
  for (let r = 0; r < 2; r++) {
    const s = performance.now(); let f = 0;
    for (let i = 0; i < 1_000_000; i++) if (t.get(probe[i & 4095]!) !== undefined) f++;
    console.log(name, Math.round(1_000_000 / (performance.now() - s) * 1000));
  }
}
