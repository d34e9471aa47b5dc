/**
 * The state stores a processor can use, by name, through `ctx.getStateStore(name)`. Reads see
 * the task's own uncommitted writes; writes reach the local store and its changelog topic only
 * when the task commits. Keys are ordered by their serialized bytes, as in Kafka Streams.
 */

export interface KeyValue<K, V> {
  key: K;
  value: V;
}

export interface ReadOnlyKeyValueStore<K, V> {
  readonly name: string;
  get(key: K): V | undefined;
  /** Entries with from <= key <= to (by serialized bytes); either bound may be omitted. */
  range(from?: K, to?: K): IterableIterator<KeyValue<K, V>>;
  /** Entries whose serialized key starts with the serialized prefix. */
  prefixScan<P>(prefix: P, prefixSerde?: { serialize(value: P, topic: string): Buffer }): IterableIterator<KeyValue<K, V>>;
  all(): IterableIterator<KeyValue<K, V>>;
  approximateCount(): number;
}

export interface KeyValueStore<K, V> extends ReadOnlyKeyValueStore<K, V> {
  put(key: K, value: V | null): void;
  /** Puts only when the key has no value; returns the value that was there. */
  putIfAbsent(key: K, value: V): V | undefined;
  /** Removes the key; returns the value it had. */
  delete(key: K): V | undefined;
}

export interface TimeWindow {
  /** Inclusive, epoch ms. */
  start: number;
  /** Exclusive, epoch ms (for sessions: the last record's timestamp, inclusive). */
  end: number;
}

/** A key with the window it belongs to: the key type of windowed aggregations. */
export interface Windowed<K> {
  key: K;
  window: TimeWindow;
}

export interface ReadOnlyWindowStore<K, V> {
  readonly name: string;
  /** The value of one window of a key. */
  fetch(key: K, windowStart: number): V | undefined;
  /** Windows of a key starting in [timeFrom, timeTo], oldest first (Kafka Streams' fetch(key, from, to)). */
  fetch(key: K, timeFrom: number, timeTo: number): IterableIterator<{ windowStart: number; value: V }>;
  /** Windows of a key starting in [timeFrom, timeTo], oldest first. */
  fetchRange(key: K, timeFrom: number, timeTo: number): IterableIterator<{ windowStart: number; value: V }>;
  /** Windows of every key starting in [timeFrom, timeTo]. */
  fetchAll(timeFrom: number, timeTo: number): IterableIterator<KeyValue<Windowed<K>, V>>;
  /** How long windows are kept after their start, in ms. */
  readonly retentionMs: number;
}

export interface WindowStore<K, V> extends ReadOnlyWindowStore<K, V> {
  /** Stores a window's value (null removes it). Windows older than the retention are ignored. */
  put(key: K, value: V | null, windowStart: number): void;
}

export interface ReadOnlySessionStore<K, V> {
  readonly name: string;
  /** Sessions of a key that end at or after earliestEnd and start at or before latestStart. */
  findSessions(key: K, earliestSessionEnd: number, latestSessionStart: number): IterableIterator<KeyValue<Windowed<K>, V>>;
  fetchSession(key: K, start: number, end: number): V | undefined;
}

export interface SessionStore<K, V> extends ReadOnlySessionStore<K, V> {
  put(session: Windowed<K>, value: V): void;
  remove(session: Windowed<K>): void;
}
