/**
 * State backend throughput, per backend (memory, sqlite, level), on a fresh directory in the
 * OS temp dir:
 *
 *   node --import tsx bench/state-backends.ts [puts] [batch]
 *
 * 1. Puts: `puts` (default 1M) puts of 100-byte values over 10,000 keys (16 bytes, random
 *    order), in commit batches of `batch` (default 5,000) writes, each write() with a
 *    checkpoint, as the commit of a task does. Records/s, and commit latency p50/p99.
 * 2. Gets: 1M random gets of existing keys, synchronous, after 100k to warm up. Gets/s.
 * 3. Scans: a full scan of the 10,000 keys, repeated 50 times; sync range() where the backend
 *    has it, and rangeAsync(). Entries/s.
 * The batches are not deduplicated per key (the task's write batch would do that), so this is
 * what the backend itself sustains.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTaskStateBackend, type BackendKind, type StoreWrite } from '../src/state/backend/index.js';
import { seededRandom as random } from '../examples/prng.js';

const PUTS = Number(process.argv[2] ?? 1_000_000);
const BATCH = Number(process.argv[3] ?? 5_000);
const KEYS = 10_000;
const GETS = 1_000_000;
const SCANS = 50;
const STORE = 'customer-totals';


const keys = Array.from({ length: KEYS }, (_, i) => Buffer.from(`customer-${String(i).padStart(7, '0')}`)); // 16 bytes
const values = Array.from({ length: 16 }, (_, i) => Buffer.alloc(100, 0x41 + i));

interface Row {
  kind: BackendKind;
  putsPerSec: number;
  commitP50: number;
  commitP99: number;
  getsPerSec: number;
  scanSync: number | undefined;
  scanAsync: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function bench(kind: BackendKind, dir: string): Promise<Row> {
  const backend = await openTaskStateBackend({ kind, dir });
  const store = backend.store(STORE);
  const rnd = random(42);

  // Batches made up front, so that only write() is timed.
  const batches: StoreWrite[][] = [];
  for (let done = 0; done < PUTS; done += BATCH) {
    const writes: StoreWrite[] = new Array(Math.min(BATCH, PUTS - done));
    for (let i = 0; i < writes.length; i++) {
      writes[i] = { store: STORE, key: keys[Math.floor(rnd() * KEYS)]!, value: values[(done + i) % values.length]! };
    }
    batches.push(writes);
  }
  const latencies: number[] = [];
  const putStart = performance.now();
  let offset = 0;
  for (const writes of batches) {
    const t = performance.now();
    offset += writes.length;
    await backend.write(writes, [], { 'bench-customer-totals-changelog-0': offset });
    latencies.push(performance.now() - t);
  }
  const putMs = performance.now() - putStart;
  latencies.sort((a, b) => a - b);

  const getKeys = Array.from({ length: 4096 }, () => keys[Math.floor(rnd() * KEYS)]!);
  for (let i = 0; i < 100_000; i++) store.get(getKeys[i & 4095]!); // warm-up
  let found = 0;
  const getStart = performance.now();
  for (let i = 0; i < GETS; i++) if (store.get(getKeys[i & 4095]!) !== undefined) found++;
  const getMs = performance.now() - getStart;
  if (found !== GETS) throw new Error(`${kind}: ${GETS - found} gets missed`);

  let scanSync: number | undefined;
  if (kind !== 'level') {
    let n = 0;
    const t = performance.now();
    for (let s = 0; s < SCANS; s++) for (const e of store.range()) n += e.value.length > 0 ? 1 : 0;
    scanSync = (n / (performance.now() - t)) * 1000;
    if (n !== SCANS * KEYS) throw new Error(`${kind}: sync scans saw ${n} entries`);
  }
  let n = 0;
  const t = performance.now();
  for (let s = 0; s < SCANS; s++) for await (const e of store.rangeAsync()) n += e.value.length > 0 ? 1 : 0;
  const scanAsync = (n / (performance.now() - t)) * 1000;
  if (n !== SCANS * KEYS) throw new Error(`${kind}: async scans saw ${n} entries`);
  if (store.approximateCount() !== KEYS) throw new Error(`${kind}: count ${store.approximateCount()}`);

  await backend.destroy();
  return {
    kind,
    putsPerSec: (PUTS / putMs) * 1000,
    commitP50: quantile(latencies, 0.5),
    commitP99: quantile(latencies, 0.99),
    getsPerSec: (GETS / getMs) * 1000,
    scanSync,
    scanAsync,
  };
}

const fmt = (x: number | undefined): string => (x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));

const root = mkdtempSync(join(tmpdir(), 'tributary-bench-state-'));
try {
  console.log(`${PUTS.toLocaleString('en-US')} puts of 100-byte values over ${KEYS.toLocaleString('en-US')} keys in batches of ${BATCH.toLocaleString('en-US')}; ${GETS.toLocaleString('en-US')} gets; ${SCANS} full scans\n`);
  const header = ['backend', 'puts/s', 'commit p50 ms', 'commit p99 ms', 'gets/s', 'scan sync entries/s', 'scan async entries/s'];
  const rows: string[][] = [];
  for (const kind of ['memory', 'sqlite', 'level'] as const) {
    const r = await bench(kind, join(root, kind));
    rows.push([kind, fmt(r.putsPerSec), r.commitP50.toFixed(1), r.commitP99.toFixed(1), fmt(r.getsPerSec), fmt(r.scanSync), fmt(r.scanAsync)]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));
} finally {
  rmSync(root, { recursive: true, force: true });
}
