import { ClassicLevel } from 'classic-level';
import fs from 'node:fs';
const loc = '/tmp/scratch/lvl2'; fs.rmSync(loc, { recursive: true, force: true });
const db = new ClassicLevel<Buffer, Buffer>(loc, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open();
const keys = Array.from({ length: 10000 }, (_, i) => Buffer.from(`\x01\x00\x05abcdecustomer-${String(i).padStart(7, '0')}`, 'latin1'));
const val = Buffer.alloc(100, 65);
const pick = (b: number) => { const ks = new Map<string, Buffer>(); for (let i = 0; i < 5000; i++) { const k = keys[(b * 7919 + i * 31 + i * i) % 10000]!; ks.set(k.toString('latin1'), k); } return [...ks.values()]; };
async function run(name: string, check: (ks: Buffer[]) => Promise<unknown> | unknown) {
  let tc = 0; const t0 = performance.now();
  for (let b = 0; b < 100; b++) { const ks = pick(b); let t = performance.now(); await check(ks); tc += performance.now() - t; const batch = db.batch(); for (const k of ks) batch.put(k, val); await batch.write(); }
  console.log(name, 'check ms', Math.round(tc), 'total', Math.round(performance.now() - t0));
}
await run('none', () => undefined);
await run('hasMany', (ks) => db.hasMany(ks));
await run('getMany', (ks) => db.getMany(ks));
await run('getSync', (ks) => { let n = 0; for (const k of ks) if (db.getSync(k) !== undefined) n++; return n; });
await run('getMany fillCache false', (ks) => db.getMany(ks, { fillCache: false }));
await db.close();
