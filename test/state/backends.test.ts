/**
 * The contract of the bytes-level state backends beyond the model test: argument errors that
 * change nothing, use after close, scans left open, long scans (sqlite's pages), snapshots of
 * async scans, write ordering, checkpoint merging, destroy, and opening what is not state.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClosedError, IllegalStateError } from '../../src/errors/index.js';
import {
  openTaskStateBackend,
  StateBackendError,
  UnsupportedOperationError,
  type BackendKind,
  type BytesEntry,
  type KeyRange,
  type TaskStateBackend,
} from '../../src/state/backend/index.js';
import type { MemoryTaskStateBackend } from '../../src/state/backend/memory-backend.js';

let root: string;
let n = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'tributary-backends-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

const b = (s: string): Buffer => Buffer.from(s);

async function collect(entries: AsyncIterable<BytesEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of entries) out.push(`${e.key.toString()}=${e.value.toString()}`);
  return out;
}

/** A 4-byte big-endian key, so that numeric order is byte order. */
function key4(i: number): Buffer {
  const k = Buffer.alloc(4);
  k.writeUInt32BE(i);
  return k;
}

for (const kind of ['memory', 'sqlite', 'level'] as const satisfies readonly BackendKind[]) {
  describe(`${kind} backend`, () => {
    const open = (dir = join(root, `${kind}-${n++}`)): Promise<TaskStateBackend> => openTaskStateBackend({ kind, dir });

    test('rejects what is not a Buffer or a store name with a TypeError, and a rejected write changes nothing', async () => {
      const backend = await open();
      try {
        const store = backend.store('s');
        assert.throws(() => store.get('k' as unknown as Buffer), { name: 'TypeError', message: /get\(\) key \(store 's'\) must be a Buffer, got string/ });
        assert.throws(() => store.get(new Uint8Array([1]) as Buffer), /must be a Buffer, got a Uint8Array/);
        assert.throws(() => backend.store(''), { name: 'TypeError', message: /store name must be a non-empty string/ });
        assert.throws(() => store.rangeAsync({ gte: 'a' as unknown as Buffer }), /range bound gte \(store 's'\) must be a Buffer/);
        await assert.rejects(
          backend.write(
            [
              { store: 's', key: b('good'), value: b('1') },
              { store: 's', key: b('bad'), value: 'x' as unknown as Buffer },
            ],
            [],
            { 'app-s-changelog-0': 5 },
          ),
          { name: 'TypeError', message: /value of writes\[1\] \(store 's'; null deletes\) must be a Buffer/ },
        );
        await assert.rejects(backend.write([], [], { 'app-s-changelog-0': -1 }), /non-negative integer offset/);
        await assert.rejects(backend.write([{ store: '', key: b('k'), value: null }], [], {}), /non-empty string/);
        assert.equal(store.get(b('good')), undefined);
        assert.deepEqual(backend.readCheckpoints(), {});
        assert.equal(store.approximateCount(), 0);
      } finally {
        await backend.destroy();
      }
    });

    test('everything but close() throws ClosedError after close()', async () => {
      const backend = await open();
      const store = backend.store('s');
      await backend.write([{ store: 's', key: b('k'), value: b('v') }], [], {});
      await backend.close();
      await backend.close(); // idempotent
      assert.throws(() => store.get(b('k')), ClosedError);
      assert.throws(() => store.approximateCount(), ClosedError);
      assert.throws(() => backend.store('s'), ClosedError);
      assert.throws(() => backend.readCheckpoints(), ClosedError);
      await assert.rejects(backend.write([], [], {}), ClosedError);
      await backend.destroy();
    });

    test('write() calls run in call order, and checkpoints merge', async () => {
      const backend = await open();
      try {
        const done = [
          backend.write([{ store: 's', key: b('k'), value: b('1') }], [], { a: 1 }),
          backend.write([{ store: 's', key: b('k'), value: b('2') }], [], { b: 7 }),
          backend.write([{ store: 't', key: b('k'), value: b('3') }], [], { a: 2 }),
        ];
        await Promise.all(done);
        assert.equal(backend.store('s').get(b('k'))?.toString(), '2');
        assert.equal(backend.store('t').get(b('k'))?.toString(), '3');
        assert.deepEqual(backend.readCheckpoints(), { a: 2, b: 7 });
        // A later write of a key in the same batch wins; range deletes go first.
        await backend.write(
          [
            { store: 's', key: b('x'), value: b('1') },
            { store: 's', key: b('x'), value: null },
            { store: 's', key: b('k'), value: b('4') },
          ],
          [{ store: 's', from: b('a'), to: b('z') }],
          {},
        );
        assert.deepEqual(await collect(backend.store('s').rangeAsync()), ['k=4']);
        assert.equal(backend.store('s').approximateCount(), 1);
      } finally {
        await backend.destroy();
      }
    });

    test('async scans page through many keys with bounds, reverse and limit', async () => {
      const backend = await open();
      try {
        const writes = Array.from({ length: 1500 }, (_, i) => ({ store: 'big', key: key4(i), value: b(String(i)) }));
        await backend.write(writes, [], {});
        const store = backend.store('big');
        const numbers = async (range: KeyRange): Promise<number[]> => {
          const out: number[] = [];
          for await (const e of store.rangeAsync(range)) out.push(e.key.readUInt32BE());
          return out;
        };
        const span = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
        assert.deepEqual(await numbers({}), span(0, 1500));
        assert.deepEqual(await numbers({ gt: key4(10), lte: key4(1400) }), span(11, 1401));
        assert.deepEqual(await numbers({ gte: key4(10), lt: key4(1400), reverse: true }), span(10, 1400).reverse());
        assert.deepEqual(await numbers({ limit: 700 }), span(0, 700));
        assert.deepEqual(await numbers({ reverse: true, limit: 1030 }), span(470, 1500).reverse());
        assert.deepEqual(await numbers({ gte: key4(1000), limit: 0 }), []);
        if (kind !== 'level') {
          const sync = [...store.range({ gt: key4(10), lte: key4(1400) })].map((e) => e.key.readUInt32BE());
          assert.deepEqual(sync, span(11, 1401));
        }
        assert.equal(store.approximateCount(), 1500);
      } finally {
        await backend.destroy();
      }
    });

    test('an async scan may stay open across write()s', async () => {
      const backend = await open();
      try {
        await backend.write(
          Array.from({ length: 1200 }, (_, i) => ({ store: 's', key: key4(i * 2), value: b('old') })),
          [],
          {},
        );
        const seen: number[] = [];
        let wrote = false;
        for await (const e of backend.store('s').rangeAsync()) {
          seen.push(e.key.readUInt32BE());
          if (!wrote) {
            wrote = true;
            await backend.write([{ store: 's', key: key4(2001), value: b('new') }, { store: 's', key: key4(0), value: null }], [], {});
          }
        }
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, 'in order, without repeats');
        if (kind === 'sqlite') {
          // Pages: the insert after the first page shows.
          assert.equal(seen.length, 1201);
        } else {
          // A snapshot from when the scan started.
          assert.equal(seen.length, 1200);
          assert.ok(!seen.includes(2001));
        }
        assert.equal(backend.store('s').approximateCount(), 1200);
      } finally {
        await backend.destroy();
      }
    });

    if (kind === 'level') {
      test('range() says to use sqlite, memory or rangeAsync', async () => {
        const backend = await open();
        try {
          assert.throws(() => backend.store('windows').range({}), (err: unknown) => {
            assert.ok(err instanceof UnsupportedOperationError);
            assert.match(err.message, /store 'windows'.*cannot scan synchronously.*'sqlite' or 'memory' backend.*rangeAsync\(\)/);
            return true;
          });
        } finally {
          await backend.destroy();
        }
      });
    } else {
      test('a sync scan left open blocks write() with IllegalStateError until it is closed, and close() ends it', async () => {
        const backend = await open();
        try {
          await backend.write([1, 2, 3].map((i) => ({ store: 's', key: key4(i), value: b('v') })), [], {});
          const store = backend.store('s');
          // Nested scans of the same shape work.
          const pairs: string[] = [];
          for (const x of store.range()) for (const y of store.range()) pairs.push(`${x.key.readUInt32BE()}${y.key.readUInt32BE()}`);
          assert.equal(pairs.length, 9);
          const open = store.range()[Symbol.iterator]();
          open.next();
          await assert.rejects(backend.write([{ store: 's', key: key4(9), value: b('v') }], [], {}), (err: unknown) => {
            assert.ok(err instanceof IllegalStateError);
            assert.match(err.message, /1 range\(\) scan\(s\) still open/);
            return true;
          });
          if (kind === 'sqlite') assert.throws(() => backend.store('new'), IllegalStateError); // a table cannot be created under a scan
          open.return!();
          for (const e of store.range()) if (e.key.readUInt32BE() === 2) break; // left early: closed by break
          await backend.write([{ store: 's', key: key4(9), value: b('v') }], [], {});
          assert.equal(store.approximateCount(), 4);
          // close() ends a scan left open; it then says so.
          const left = store.range()[Symbol.iterator]();
          left.next();
          await backend.close();
          assert.throws(() => left.next(), ClosedError);
        } finally {
          await backend.destroy();
        }
      });
    }

    if (kind === 'memory') {
      test('is not persistent, and keeps copies of the bytes it is given', async () => {
        const backend = await open();
        assert.equal(backend.persistent, false);
        const key = b('k');
        const value = b('v');
        await backend.write([{ store: 's', key, value }], [], { a: 1 });
        key[0] = 0x7a;
        value[0] = 0x7a;
        assert.equal(backend.store('s').get(b('k'))?.toString(), 'v');
        // writeSync (testTopology's synchronous commits) applies at once.
        (backend as MemoryTaskStateBackend).writeSync([{ store: 's', key: b('sync'), value: b('1') }], [], { a: 2 });
        assert.equal(backend.store('s').get(b('sync'))?.toString(), '1');
        assert.deepEqual(backend.readCheckpoints(), { a: 2 });
        await backend.close();
        const again = await open();
        assert.deepEqual(again.readCheckpoints(), {});
        assert.equal(again.store('s').get(b('k')), undefined);
        await again.destroy();
      });
    } else {
      test('keeps stores, counts and checkpoints across reopening; destroy() removes them from disk', async () => {
        const dir = join(root, `${kind}-${n++}`);
        const backend = await open(dir);
        assert.equal(backend.persistent, true);
        await backend.write(
          [
            { store: 'a', key: b('1'), value: b('x') },
            { store: 'ab', key: b('2'), value: b('') },
          ],
          [],
          { 'app-a-changelog-0': 12 },
        );
        await backend.close();
        const again = await open(dir);
        assert.equal(again.store('a').get(b('1'))?.toString(), 'x');
        assert.deepEqual(again.store('ab').get(b('2')), Buffer.alloc(0));
        assert.equal(again.store('ab').approximateCount(), 1);
        assert.deepEqual(again.readCheckpoints(), { 'app-a-changelog-0': 12 });
        await again.destroy();
        assert.ok(!existsSync(join(dir, kind === 'sqlite' ? 'state.sqlite' : 'level')));
        const fresh = await open(dir);
        assert.deepEqual(fresh.readCheckpoints(), {});
        assert.equal(fresh.store('a').get(b('1')), undefined);
        await fresh.destroy();
      });
    }
  });
}

test('a sqlite file that is not Tributary state is refused with StateBackendError', async () => {
  const dir = join(root, `foreign-${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'state.sqlite'), 'this is not a database, but it is long enough to have a header of a hundred bytes in it, surely');
  await assert.rejects(openTaskStateBackend({ kind: 'sqlite', dir }), { name: 'StateBackendError', message: /cannot open the sqlite state file .*file is not a database/ });
  rmSync(join(dir, 'state.sqlite'));
  const Database = (await import('better-sqlite3')).default;
  const other = new Database(join(dir, 'state.sqlite'));
  other.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY)');
  other.close();
  await assert.rejects(openTaskStateBackend({ kind: 'sqlite', dir }), (err: unknown) => {
    assert.ok(err instanceof StateBackendError);
    assert.match(err.message, /state\.sqlite is not a Tributary state file/);
    return true;
  });
});

test('a level state held open elsewhere is refused with a retriable StateBackendError', async () => {
  const dir = join(root, `locked-${n++}`);
  const first = await openTaskStateBackend({ kind: 'level', dir });
  try {
    await assert.rejects(openTaskStateBackend({ kind: 'level', dir }), (err: unknown) => {
      assert.ok(err instanceof StateBackendError);
      assert.equal(err.retriable, true);
      assert.match(err.message, /in use by another process/);
      return true;
    });
  } finally {
    await first.destroy();
  }
});

test('an unknown backend kind is a TypeError naming the kinds', async () => {
  await assert.rejects(openTaskStateBackend({ kind: 'rocks' as BackendKind, dir: root }), /unknown state backend kind 'rocks': use 'memory', 'sqlite' or 'level'/);
});
