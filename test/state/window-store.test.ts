import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serdes } from '../../src/index.js';
import { openMemoryBackend } from '../../src/state/backend/memory-backend.js';
import { WriteBatchStore } from '../../src/state/internals/write-batch-store.js';
import { TypedWindowStore } from '../../src/state/window-store.js';

const store = (batch: WriteBatchStore, retainDuplicates: boolean, retentionMs = 1000) =>
  new TypedWindowStore<string, string>('w', batch, serdes.string(), serdes.string(), 't', retentionMs, 60_000, retainDuplicates);

describe('window store', () => {
  it('keeps duplicates of one key and time apart, also after a restart', async () => {
    const backend = openMemoryBackend();
    const batch1 = new WriteBatchStore('w', backend.store('w'));
    const before = store(batch1, true);
    before.put('k', 'a', 100);
    before.put('k', 'b', 100);
    const drained = batch1.drain();
    await backend.write(drained.writes, drained.rangeDeletes, {});
    // A new process: the duplicate counter starts over, and must not overwrite 'a' or 'b'.
    const after = store(new WriteBatchStore('w', backend.store('w')), true);
    after.put('k', 'c', 100);
    assert.deepEqual([...after.fetch('k', 0, 200)].map((e) => e.value).sort(), ['a', 'b', 'c']);
  });

  it('drops expired windows by whole segments and ignores puts older than the retention', () => {
    const backend = openMemoryBackend();
    const batch = new WriteBatchStore('w', backend.store('w'));
    const w = new TypedWindowStore<string, string>('w', batch, serdes.string(), serdes.string(), 't', 1000, 500, false);
    w.put('k', 'old', 100);
    w.put('k', 'new', 2000);
    assert.equal(w.fetch('k', 100), undefined, 'older than 2000 - 1000: expired');
    w.put('k', 'late', 200);
    assert.equal(w.fetch('k', 200), undefined, 'a put older than the retention is ignored');
    assert.equal(w.fetch('k', 2000), 'new');
    assert.deepEqual(batch.drain().rangeDeletes.length, 1, 'one range delete for the expired segments');
  });
});
