const src = Array.from({ length: 1000 }, (_, i) => Buffer.from(`customer-${String(i).padStart(7, '0')}`));
const vals = Array.from({ length: 1000 }, (_, i) => Buffer.alloc(100, i));
const fns: [string, (b: Buffer) => Buffer][] = [
  ['Buffer.from', (b) => Buffer.from(b)],
  ['allocUnsafe+copy', (b) => { const c = Buffer.allocUnsafe(b.length); b.copy(c); return c; }],
  ['allocUnsafe+set', (b) => { const c = Buffer.allocUnsafe(b.length); c.set(b); return c; }],
  ['allocUnsafeSlow+set', (b) => { const c = Buffer.allocUnsafeSlow(b.length); c.set(b); return c; }],
  ['Buffer.copyBytesFrom', (b) => Buffer.copyBytesFrom(b)],
];
for (let r = 0; r < 2; r++) for (const [name, f] of fns) {
  let keep: Buffer[] = []; const t = performance.now();
  for (let i = 0; i < 1_000_000; i++) { keep.push(f(src[i % 1000]!)); keep.push(f(vals[i % 1000]!)); if (keep.length > 20000) keep = []; }
  console.log(name, Math.round((performance.now() - t)), 'ms for 1M key+value copies');
}
