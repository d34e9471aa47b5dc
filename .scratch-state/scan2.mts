import { openTaskStateBackend } from '../src/state/backend/index.js';
import fs from 'node:fs';
const dir = '/tmp/scratch/scan2'; fs.rmSync(dir, { recursive: true, force: true });
const b = await openTaskStateBackend({ kind: 'sqlite', dir });
const s = b.store('x');
const keys = Array.from({ length: 10000 }, (_, i) => Buffer.from(`customer-${String(i).padStart(7, '0')}`));
await b.write(keys.map((key) => ({ store: 'x', key, value: Buffer.alloc(100, 65) })), [], {});
function time(name: string, f: () => number) { f(); const t = performance.now(); let n = 0; for (let i = 0; i < 50; i++) n += f(); console.log(name, Math.round(n / (performance.now() - t) * 1000)); }
time('fresh: range()', () => { let n = 0; for (const e of s.range()) n++; return n; });
for (let r = 0; r < 100; r++) await b.write(Array.from({ length: 5000 }, (_, i) => ({ store: 'x', key: keys[(i * 7919 + r * 31) % 10000]!, value: Buffer.alloc(100, 66) })), [], {});
time('after 500k updates: range()', () => { let n = 0; for (const e of s.range()) n++; return n; });
const db = (b as any).db; console.log(db.pragma('wal_checkpoint(TRUNCATE)'));
time('after checkpoint: range()', () => { let n = 0; for (const e of s.range()) n++; return n; });
db.exec('VACUUM');
time('after vacuum: range()', () => { let n = 0; for (const e of s.range()) n++; return n; });
await b.destroy();
