import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { openMemoryBackend } from '../../src/state/backend/memory-backend.js';
import { WriteBatchStore } from '../../src/state/internals/write-batch-store.js';

/**
 * The write batch under pipelined commits: writes sealed for the commit in flight stay visible
 * (get and range) under the writes made after them, until drained into the backend or discarded.
 * Checked against a plain Map of what a reader must see.
 */
type Op =
  | { op: 'put'; key: number; value: number }
  | { op: 'delete'; key: number }
  | { op: 'deleteRange'; from: number; to: number }
  | { op: 'seal' }
  | { op: 'drain' }
  | { op: 'discard' };

const key = (k: number) => Buffer.from([k]);
const KEYS = 12;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.nat(KEYS - 1), value: fc.nat(99) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.nat(KEYS - 1) }) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(KEYS), fc.nat(KEYS)).map(([a, b]) => ({ op: 'deleteRange' as const, from: Math.min(a, b), to: Math.max(a, b) })) },
  { weight: 2, arbitrary: fc.constant({ op: 'seal' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'drain' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'discard' as const }) },
);

describe('write batch with a sealed commit in flight', () => {
  it('reads see current writes over sealed ones over committed ones; drain commits, discard drops both (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), fc.boolean(), async (ops, cached) => {
        const backend = openMemoryBackend();
        const batch = new WriteBatchStore('s', backend.store('s'), cached ? 4 : 0);
        // what the backend holds, what a reader sees, and what the sealed batch will commit
        let committed = new Map<number, number>();
        let visible = new Map<number, number>();
        let sealedView: Map<number, number> | undefined;
        for (const o of ops) {
          switch (o.op) {
            case 'put':
              batch.put(key(o.key), Buffer.from([o.value]));
              visible.set(o.key, o.value);
              break;
            case 'delete':
              batch.put(key(o.key), null);
              visible.delete(o.key);
              break;
            case 'deleteRange':
              batch.deleteRange(key(o.from), key(o.to));
              for (const k of [...visible.keys()]) if (k >= o.from && k < o.to) visible.delete(k);
              break;
            case 'seal':
              if (sealedView !== undefined) {
                assert.throws(() => batch.seal(), /already in flight/);
                break;
              }
              batch.seal();
              sealedView = new Map(visible);
              break;
            case 'drain': {
              if (sealedView === undefined) break;
              const { writes, rangeDeletes } = batch.drainSealed();
              await backend.write(writes, rangeDeletes, {});
              committed = sealedView;
              sealedView = undefined;
              break;
            }
            case 'discard':
              batch.discard();
              sealedView = undefined;
              visible = new Map(committed);
              break;
          }
          for (let k = 0; k < KEYS; k++) {
            const v = batch.get(key(k));
            assert.equal(v === undefined ? undefined : v[0], visible.get(k), `get(${k}) after ${JSON.stringify(o)}`);
          }
          const scanned = [...batch.range({ gte: key(2), lt: key(10) })].map((e) => [e.key[0], e.value[0]]);
          const expected = [...visible].filter(([k]) => k >= 2 && k < 10).sort((a, b) => a[0]! - b[0]!);
          assert.deepEqual(scanned, expected, `range after ${JSON.stringify(o)}`);
          const reversed = [...batch.range({ reverse: true, limit: 3 })].map((e) => e.key[0]);
          assert.deepEqual(reversed, [...visible.keys()].sort((a, b) => b - a).slice(0, 3), `reverse range after ${JSON.stringify(o)}`);
        }
        // the backend holds exactly what the drained commits wrote
        const stored = [...backend.store('s').range({})].map((e) => [e.key[0], e.value[0]]);
        assert.deepEqual(stored, [...committed].sort((a, b) => a[0]! - b[0]!));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a second seal while the first is not drained', () => {
    const batch = new WriteBatchStore('s', openMemoryBackend().store('s'));
    batch.put(key(1), Buffer.from([1]));
    batch.seal();
    batch.put(key(2), Buffer.from([2]));
    assert.throws(() => batch.seal(), /a commit is already in flight/);
    assert.equal(batch.sealedSize, 1);
    assert.equal(batch.size, 1);
    assert.deepEqual(batch.drainSealed().writes.map((w) => w.key[0]), [1], 'only the sealed write is drained');
    batch.seal();
    assert.deepEqual(batch.drainSealed().writes.map((w) => w.key[0]), [2]);
  });
});
