import { ClassicLevel } from 'classic-level';
import fs from 'node:fs';
const loc = '/tmp/scratch/lvl'; fs.rmSync(loc, { recursive: true, force: true });
const db = new ClassicLevel<Buffer, Buffer>(loc, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open();
const prefix = Buffer.from([1, 0, 5, 97, 98, 99, 100, 101]);
const keys = Array.from({ length: 10000 }, (_, i) => Buffer.concat([prefix, Buffer.from(`customer-${String(i).padStart(7, '0')}`)]));
const val = Buffer.alloc(100, 65);
let tOps = 0, tHas = 0, tBatch = 0, tIds = 0;
const t0 = performance.now();
for (let b = 0; b < 200; b++) {
  let t = performance.now();
  const ks: Buffer[] = []; for (let i = 0; i < 5000; i++) ks.push(Buffer.concat([keys[(b * 7919 + i * 31) % 10000]!.subarray(0, 8), keys[(b * 7919 + i * 31) % 10000]!.subarray(8)]));
  const ids = new Map<string, Buffer>(); for (const k of ks) ids.set(k.toString('latin1'), k);
  tIds += performance.now() - t; t = performance.now();
  const found = await db.hasMany([...ids.values()]);
  tHas += performance.now() - t; t = performance.now();
  const ops = ks.map((key) => ({ type: 'put' as const, key, value: val }));
  tOps += performance.now() - t; t = performance.now();
  await db.batch(ops);
  tBatch += performance.now() - t;
}
console.log({ total: performance.now() - t0, tIds, tHas, tOps, tBatch });
const t1 = performance.now();
for (let b = 0; b < 200; b++) { const batch = db.batch(); for (let i = 0; i < 5000; i++) batch.put(keys[(b * 7919 + i * 31) % 10000]!, val); await batch.write(); }
console.log('chained', performance.now() - t1);
const t2 = performance.now();
for (let b = 0; b < 200; b++) { const ops = []; for (let i = 0; i < 5000; i++) ops.push({ type: 'put' as const, key: keys[(b * 7919 + i * 31) % 10000]!, value: val }); await db.batch(ops); }
console.log('array', performance.now() - t2);
await db.close();
