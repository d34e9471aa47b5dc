import Database from 'better-sqlite3';
import fs from 'node:fs';
const path = '/tmp/scratch/scan.sqlite';
for (const s of ['', '-wal', '-shm']) fs.rmSync(path + s, { force: true });
const db = new Database(path); db.pragma('journal_mode = WAL');
db.exec('create table t (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
const ins = db.prepare('insert into t values (?, ?)');
db.transaction(() => { for (let i = 0; i < 10000; i++) ins.run(Buffer.from(`customer-${String(i).padStart(7, '0')}`), Buffer.alloc(100, 65)); })();
function time(name: string, f: () => number) { f(); const t = performance.now(); let n = 0; for (let i = 0; i < 50; i++) n += f(); console.log(name, Math.round(n / (performance.now() - t) * 1000)); }
const it = db.prepare('select k, v from t order by k limit ?').raw();
time('iterate raw', () => { let n = 0; for (const r of it.iterate(-1) as Iterable<[Buffer, Buffer]>) { n++; } return n; });
time('iterate raw + entry', () => { let n = 0; for (const r of it.iterate(-1) as Iterable<[Buffer, Buffer]>) { const e = { key: r[0], value: r[1] }; if (e.key) n++; } return n; });
const itObj = db.prepare('select k, v from t order by k limit ?');
time('iterate obj', () => { let n = 0; for (const r of itObj.iterate(-1)) { n++; } return n; });
time('all raw', () => (it.all(-1) as unknown[]).length);
const page = db.prepare('select k, v from t where k > ? order by k limit ?').raw();
const first = db.prepare('select k, v from t order by k limit ?').raw();
for (const P of [64, 256, 1024]) time(`pages ${P}`, () => { let n = 0; let rows = first.all(P) as [Buffer, Buffer][]; for (;;) { for (const r of rows) { const e = { key: r[0], value: r[1] }; if (e.key) n++; } if (rows.length < P) return n; rows = page.all(rows[rows.length - 1]![0], P) as [Buffer, Buffer][]; } });
