/**
 * Model-based property test of the bytes-level state backends: random sequences of atomic
 * writes (puts, deletes, range deletes, checkpoints) over three stores, gets, bounded scans
 * (random bounds, reverse, limit), prefix scans, counts and (persistent backends) close +
 * reopen, each checked against a plain Map model ordered by Buffer.compare. Keys are short and
 * drawn from bytes such as 0x00, 0x7f, 0x80 and 0xff, empty ones included, so that unsigned
 * byte order (not string order) and prefix boundaries matter. Store names 's' and 'st' check
 * that one store's keys never show in another's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { openTaskStateBackend, type BackendKind, type BytesEntry, type KeyRange, type RangeDelete, type StoreWrite, type TaskStateBackend } from '../../src/state/backend/index.js';

const STORES = ['s', 'st', 'fenêtre'] as const;
const CHANGELOGS = ['app-s-changelog-0', 'app-st-changelog-0', 'app-fenêtre-changelog-3'] as const;
const NUM_RUNS = 40;

// ---- arbitraries -------------------------------------------------------------------------

// Mostly a small key space (21 keys), so that bounds and range deletes hit stored keys exactly.
const commonByte = fc.constantFrom(0x00, 0x7f, 0x80, 0xff);
const anyByte = fc.constantFrom(0x00, 0x01, 0x61, 0x7f, 0x80, 0xfe, 0xff);
const keyArb = fc
  .oneof({ weight: 4, arbitrary: fc.array(commonByte, { maxLength: 2 }) }, { weight: 1, arbitrary: fc.array(anyByte, { maxLength: 4 }) })
  .map((bytes) => Buffer.from(bytes));
const valueArb = fc.uint8Array({ minLength: 0, maxLength: 6 }).map((bytes) => Buffer.from(bytes));
const storeArb = fc.oneof({ weight: 5, arbitrary: fc.constant(STORES[0]) }, { weight: 3, arbitrary: fc.constant(STORES[1]) }, { weight: 2, arbitrary: fc.constant(STORES[2]) });

const writeArb: fc.Arbitrary<StoreWrite> = fc.record({
  store: storeArb,
  key: keyArb,
  value: fc.option(valueArb, { freq: 4, nil: null }),
});
const rangeDeleteArb: fc.Arbitrary<RangeDelete> = fc.record({ store: storeArb, from: keyArb, to: keyArb });
const checkpointsArb = fc.dictionary(fc.constantFrom(...CHANGELOGS), fc.nat({ max: 1_000_000 }), { maxKeys: 2 });

/** A lower bound (none, gte, gt, or both), an upper one likewise, maybe reverse, maybe a limit. */
const rangeArb: fc.Arbitrary<KeyRange> = fc
  .tuple(
    fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 3, arbitrary: fc.record({ gte: keyArb }) }, { weight: 3, arbitrary: fc.record({ gt: keyArb }) }, { weight: 1, arbitrary: fc.record({ gte: keyArb, gt: keyArb }) }),
    fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 3, arbitrary: fc.record({ lte: keyArb }) }, { weight: 3, arbitrary: fc.record({ lt: keyArb }) }, { weight: 1, arbitrary: fc.record({ lte: keyArb, lt: keyArb }) }),
    fc.boolean(),
    fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, Infinity) }),
  )
  .map(([lower, upper, reverse, limit]) => ({ ...lower, ...upper, ...(reverse ? { reverse } : {}), ...(limit === undefined ? {} : { limit }) }));

type Op =
  | { t: 'write'; writes: StoreWrite[]; rangeDeletes: RangeDelete[]; checkpoints: Record<string, number> }
  | { t: 'get'; store: string; key: Buffer }
  | { t: 'range'; store: string; range: KeyRange | undefined }
  | { t: 'prefix'; store: string; prefix: Buffer }
  | { t: 'count'; store: string }
  | { t: 'checkpoints' }
  | { t: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      writes: fc.array(writeArb, { maxLength: 10 }),
      rangeDeletes: fc.oneof({ weight: 2, arbitrary: fc.constant<RangeDelete[]>([]) }, { weight: 1, arbitrary: fc.array(rangeDeleteArb, { minLength: 1, maxLength: 3 }) }),
      checkpoints: checkpointsArb,
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), store: storeArb, key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('range' as const), store: storeArb, range: fc.option(rangeArb, { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('prefix' as const), store: storeArb, prefix: keyArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('count' as const), store: storeArb }) },
  { weight: 1, arbitrary: fc.constant({ t: 'checkpoints' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
);

// ---- the model ---------------------------------------------------------------------------

/** Store -> hex key -> hex value, and the checkpoints. */
class Model {
  stores = new Map<string, Map<string, string>>();
  checkpoints: Record<string, number> = {};

  store(name: string): Map<string, string> {
    let s = this.stores.get(name);
    if (s === undefined) this.stores.set(name, (s = new Map()));
    return s;
  }

  write(writes: readonly StoreWrite[], rangeDeletes: readonly RangeDelete[], checkpoints: Record<string, number>): void {
    for (const d of rangeDeletes) {
      const s = this.store(d.store);
      for (const hex of [...s.keys()]) {
        const k = Buffer.from(hex, 'hex');
        if (Buffer.compare(k, d.from) >= 0 && Buffer.compare(k, d.to) < 0) s.delete(hex);
      }
    }
    for (const w of writes) {
      if (w.value === null) this.store(w.store).delete(w.key.toString('hex'));
      else this.store(w.store).set(w.key.toString('hex'), w.value.toString('hex'));
    }
    Object.assign(this.checkpoints, checkpoints);
  }

  /** What a scan of `range` must yield, as [hex key, hex value]. */
  range(name: string, range: KeyRange = {}): [string, string][] {
    const inRange = (k: Buffer): boolean =>
      (range.gte === undefined || Buffer.compare(k, range.gte) >= 0) &&
      (range.gt === undefined || Buffer.compare(k, range.gt) > 0) &&
      (range.lte === undefined || Buffer.compare(k, range.lte) <= 0) &&
      (range.lt === undefined || Buffer.compare(k, range.lt) < 0);
    const entries = [...this.store(name)]
      .map(([hex, value]) => ({ key: Buffer.from(hex, 'hex'), hex, value }))
      .filter((e) => inRange(e.key))
      .sort((a, b) => Buffer.compare(a.key, b.key));
    if (range.reverse === true) entries.reverse();
    const limit = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    return entries.slice(0, limit).map((e) => [e.hex, e.value]);
  }
}

/** [gte, lt) of every key that starts with `prefix` (lt omitted when there is no such bound). */
function prefixRange(prefix: Buffer): KeyRange {
  let i = prefix.length - 1;
  while (i >= 0 && prefix[i] === 0xff) i--;
  if (i < 0) return { gte: prefix };
  const lt = Buffer.from(prefix.subarray(0, i + 1));
  lt[i]! += 1;
  return { gte: prefix, lt };
}

function hexEntries(entries: Iterable<BytesEntry>): [string, string][] {
  const out: [string, string][] = [];
  for (const e of entries) {
    assert.ok(Buffer.isBuffer(e.key) && Buffer.isBuffer(e.value), 'a scan yields Buffers');
    out.push([e.key.toString('hex'), e.value.toString('hex')]);
  }
  return out;
}

async function hexEntriesAsync(entries: AsyncIterable<BytesEntry>): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const e of entries) {
    assert.ok(Buffer.isBuffer(e.key) && Buffer.isBuffer(e.value), 'a scan yields Buffers');
    out.push([e.key.toString('hex'), e.value.toString('hex')]);
  }
  return out;
}

/** Every way the backend can scan: sync where it can, and always async. */
async function scan(backend: TaskStateBackend, name: string, range: KeyRange | undefined): Promise<[string, string][]> {
  const store = backend.store(name);
  const viaAsync = await hexEntriesAsync(store.rangeAsync(range));
  if (backend.kind !== 'level') assert.deepEqual(hexEntries(store.range(range)), viaAsync, 'range() and rangeAsync() agree');
  return viaAsync;
}

function show(range: KeyRange | undefined): string {
  if (range === undefined) return 'all';
  return JSON.stringify(range, (_, v: unknown) => (v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('hex') : v));
}

async function checkEverything(backend: TaskStateBackend, model: Model, when: string): Promise<void> {
  for (const name of STORES) {
    assert.deepEqual(await scan(backend, name, undefined), model.range(name), `${when}: contents of '${name}'`);
    assert.equal(backend.store(name).approximateCount(), model.store(name).size, `${when}: count of '${name}'`);
  }
  assert.deepEqual(backend.readCheckpoints(), model.checkpoints, `${when}: checkpoints`);
}

// ---- the property ------------------------------------------------------------------------

let root: string;
let runs = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'tributary-backend-model-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

for (const kind of ['memory', 'sqlite', 'level'] as const satisfies readonly BackendKind[]) {
  test(`the ${kind} backend behaves as a sorted map per store, with atomic writes and checkpoints`, { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' }), async (ops) => {
        const dir = join(root, `${kind}-${runs++}`);
        let backend = await openTaskStateBackend({ kind, dir });
        const model = new Model();
        try {
          for (const [i, op] of ops.entries()) {
            const at = `op ${i} (${op.t})`;
            switch (op.t) {
              case 'write':
                await backend.write(op.writes, op.rangeDeletes, op.checkpoints);
                model.write(op.writes, op.rangeDeletes, op.checkpoints);
                break;
              case 'get':
                assert.equal(backend.store(op.store).get(op.key)?.toString('hex'), model.store(op.store).get(op.key.toString('hex')), `${at}: get ${op.key.toString('hex')}`);
                break;
              case 'range':
                assert.deepEqual(await scan(backend, op.store, op.range), model.range(op.store, op.range), `${at}: range ${show(op.range)}`);
                break;
              case 'prefix': {
                const range = prefixRange(op.prefix);
                assert.deepEqual(await scan(backend, op.store, range), model.range(op.store, range), `${at}: prefix ${op.prefix.toString('hex')}`);
                break;
              }
              case 'count':
                assert.equal(backend.store(op.store).approximateCount(), model.store(op.store).size, `${at}: count`);
                break;
              case 'checkpoints':
                assert.deepEqual(backend.readCheckpoints(), model.checkpoints, `${at}: checkpoints`);
                break;
              case 'reopen':
                await backend.close();
                backend = await openTaskStateBackend({ kind, dir });
                if (!backend.persistent) {
                  model.stores.clear();
                  model.checkpoints = {};
                }
                await checkEverything(backend, model, `${at}: after reopening`);
                break;
            }
          }
          await checkEverything(backend, model, 'at the end');
        } finally {
          await backend.destroy();
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
}
