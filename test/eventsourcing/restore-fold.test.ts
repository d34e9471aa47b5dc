/**
 * The state mechanism deciders rest on: a store whose changelog is an output topic and whose
 * restore folds each record into the key's current value (StoreDefinition.restoreRecord), and
 * the aggregate restorer built on it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcessingError, serdes } from '../../src/index.js';
import type { ConsumedRecord } from '../../src/log/types.js';
import { aggregateSerde } from '../../src/eventsourcing/aggregate-serde.js';
import { aggregateRestorer } from '../../src/eventsourcing/decider-processor.js';
import { writesOwnChangelog, type StoreDefinition } from '../../src/state/store-definition.js';
import { TaskStores } from '../../src/state/task-stores.js';

const rec = (key: string | null, value: string | null, offset: number): ConsumedRecord => ({
  topic: 'evt',
  partition: 0,
  offset,
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(value),
  timestamp: offset,
  headers: {},
});

describe('stores restored by folding an output topic', () => {
  // A store holding the sum of the numbers written to the output topic per key.
  const sums: StoreDefinition = {
    name: 'sums',
    kind: 'key-value',
    keySerde: serdes.string(),
    valueSerde: serdes.json<number>(),
    changelog: { outputTopic: 'evt' },
    restoreRecord: (current, r) => Buffer.from(JSON.stringify((current === undefined ? 0 : (JSON.parse(current.toString()) as number)) + Number(r.value!.toString()))),
  };

  it('folds records into the stored value, including several of one key in one slice, and checkpoints after them', async () => {
    const stores = TaskStores.openInMemory({ applicationId: 'app', taskId: '0_0', partition: 0, stores: [sums] });
    const store = stores.store('sums')!;
    assert.equal(store.changelogTopic, 'evt');
    assert.deepEqual(stores.restoreTargets().map((t) => [t.topic, t.from]), [['evt', 0]]);
    await stores.applyRestored(store, [rec('a', '1', 0), rec('b', '10', 1), rec('a', '2', 2), rec(null, '99', 3)], 4);
    await stores.applyRestored(store, [rec('a', '4', 4)], 5);
    const typed = store.typed as unknown as { get(k: string): number | undefined };
    assert.equal(typed.get('a'), 7);
    assert.equal(typed.get('b'), 10);
    assert.deepEqual(stores.restoreTargets().map((t) => t.from), [5]);
    assert.deepEqual(stores.seal(0), [], 'the processor writes the topic itself: no changelog records of the store');
  });

  it('checkpoints at the end offset the commit reports for the output topic, like an internal changelog', () => {
    assert.equal(writesOwnChangelog(sums), true);
    assert.equal(writesOwnChangelog({ ...sums, changelog: { sourceTopic: 'x' } }), false);
    assert.equal(writesOwnChangelog({ ...sums, changelog: 'internal' }), true);
    const stores = TaskStores.openInMemory({ applicationId: 'app', taskId: '0_0', partition: 0, stores: [sums] });
    (stores.store('sums')!.typed as unknown as { put(k: string, v: number): void }).put('a', 3);
    stores.flushSync(new Map([['evt-0', 42]]), new Map([['evt-0', 7]]));
    assert.deepEqual(stores.restoreTargets().map((t) => t.from), [42]);
  });

  it('the aggregate restorer applies evolve and counts versions; a failing event names its offset', () => {
    const snapshots = aggregateSerde(serdes.json<number>());
    const restore = aggregateRestorer('sum', { initialState: () => 0, evolve: (s: number, e: number) => (e < 0 ? (() => { throw new Error('bad event'); })() : s + e) }, serdes.json<number>(), snapshots, 'app-sum');
    const one = restore(undefined, rec('k', '5', 0))!;
    const two = restore(one, rec('k', '6', 1))!;
    assert.deepEqual(snapshots.deserialize(two, 'app-sum'), { version: 2, state: 11 });
    assert.equal(restore(two, rec('k', null, 2)), two, 'a tombstone is not an event');
    assert.throws(() => restore(two, rec('k', '-1', 3)), (err: unknown) => err instanceof ProcessingError && /restoring from event evt-0@3 failed: bad event/.test(err.message));
  });

  it('the aggregate format is versioned and refuses what it did not write', () => {
    const s = aggregateSerde(serdes.string());
    const bytes = s.serialize({ version: 3, state: 'x' }, 't');
    assert.equal(bytes[0], 1);
    assert.deepEqual(s.deserialize(bytes, 't'), { version: 3, state: 'x' });
    assert.throws(() => s.deserialize(Buffer.from('"x"'), 't'), /not an aggregate of format 1/);
  });
});
