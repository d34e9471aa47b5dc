import Database from 'better-sqlite3';
import fs from 'node:fs';
const path = '/tmp/scratch/scan3.sqlite';
for (const s of ['', '-wal', '-shm']) fs.rmSync(path + s, { force: true });
const db = new Database(path); db.pragma('journal_mode = WAL');
db.exec('create table t (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
const ins = db.prepare('insert into t values (?, ?)');
db.transaction(() => { for (let i = 0; i < 10000; i++) ins.run(Buffer.from(`customer-${String(i).padStart(7, '0')}`), Buffer.alloc(100, 65)); })();
function time(name: string, f: () => number) { f(); f(); const t = performance.now(); let n = 0; for (let i = 0; i < 50; i++) n += f(); console.log(name, Math.round(n / (performance.now() - t) * 1000)); }
const it = db.prepare('select k, v from t order by k limit ?').raw();
let open = 0;
function* gen(rows: IterableIterator<[Buffer, Buffer]>) { open++; try { for (const row of rows) yield { key: row[0], value: row[1] }; } finally { open--; } }
class Wrap { constructor(private rows: IterableIterator<[Buffer, Buffer]>) {} [Symbol.iterator]() { return this; } next(): IteratorResult<{key: Buffer; value: Buffer}> { const r = this.rows.next(); if (r.done) return { done: true, value: undefined }; return { done: false, value: { key: r.value[0], value: r.value[1] } }; } return() { this.rows.return?.(); return { done: true as const, value: undefined }; } }
for (let round = 0; round < 2; round++) {
time('raw iterate', () => { let n = 0; for (const r of it.iterate(-1) as IterableIterator<[Buffer, Buffer]>) n++; return n; });
time('generator', () => { let n = 0; for (const e of gen(it.iterate(-1) as IterableIterator<[Buffer, Buffer]>)) n++; return n; });
time('class', () => { let n = 0; for (const e of new Wrap(it.iterate(-1) as IterableIterator<[Buffer, Buffer]>)) n++; return n; });
time('all', () => { let n = 0; for (const r of it.all(-1) as [Buffer, Buffer][]) n++; return n; });
}
