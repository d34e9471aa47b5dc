import type { KeyValue, ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore, Windowed } from '../state/store-types.js';

/**
 * A read-only view of one store across every task of this instance, for interactive queries
 * from a running app: each task holds the keys of its partition, so a lookup asks each task's
 * store and scans merge their results. Only local tasks are visible (cross-instance queries
 * come with the operations layer).
 */
export function compositeKeyValueStore<K, V>(name: string, stores: () => ReadOnlyKeyValueStore<K, V>[]): ReadOnlyKeyValueStore<K, V> {
  return {
    name,
    get(key: K): V | undefined {
      for (const s of stores()) {
        const v = s.get(key);
        if (v !== undefined) return v;
      }
      return undefined;
    },
    *range(from?: K, to?: K): IterableIterator<KeyValue<K, V>> {
      for (const s of stores()) yield* s.range(from, to);
    },
    *prefixScan<P>(prefix: P, prefixSerde?: { serialize(value: P, topic: string): Buffer }): IterableIterator<KeyValue<K, V>> {
      for (const s of stores()) yield* s.prefixScan(prefix, prefixSerde);
    },
    *all(): IterableIterator<KeyValue<K, V>> {
      for (const s of stores()) yield* s.all();
    },
    approximateCount(): number {
      return stores().reduce((n, s) => n + s.approximateCount(), 0);
    },
  };
}

export function compositeWindowStore<K, V>(name: string, stores: () => ReadOnlyWindowStore<K, V>[]): ReadOnlyWindowStore<K, V> {
  const first = () => stores()[0];
  function fetch(key: K, windowStart: number): V | undefined;
  function fetch(key: K, timeFrom: number, timeTo: number): IterableIterator<{ windowStart: number; value: V }>;
  function fetch(key: K, windowStart: number, timeTo?: number): V | undefined | IterableIterator<{ windowStart: number; value: V }> {
    if (timeTo !== undefined) return fetchRange(key, windowStart, timeTo);
    for (const s of stores()) {
      const v = s.fetch(key, windowStart);
      if (v !== undefined) return v;
    }
    return undefined;
  }
  function* fetchRange(key: K, timeFrom: number, timeTo: number) {
    for (const s of stores()) yield* s.fetchRange(key, timeFrom, timeTo);
  }
  return {
    name,
    get retentionMs() {
      return first()?.retentionMs ?? 0;
    },
    fetch,
    fetchRange,
    *fetchAll(timeFrom: number, timeTo: number): IterableIterator<KeyValue<Windowed<K>, V>> {
      for (const s of stores()) yield* s.fetchAll(timeFrom, timeTo);
    },
  };
}

export function compositeSessionStore<K, V>(name: string, stores: () => ReadOnlySessionStore<K, V>[]): ReadOnlySessionStore<K, V> {
  return {
    name,
    *findSessions(key: K, earliestSessionEnd: number, latestSessionStart: number): IterableIterator<KeyValue<Windowed<K>, V>> {
      for (const s of stores()) yield* s.findSessions(key, earliestSessionEnd, latestSessionStart);
    },
    fetchSession(key: K, start: number, end: number): V | undefined {
      for (const s of stores()) {
        const v = s.fetchSession(key, start, end);
        if (v !== undefined) return v;
      }
      return undefined;
    },
  };
}
