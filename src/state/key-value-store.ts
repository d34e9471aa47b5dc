import type { Serde } from '../serde/serde.js';
import { prefixEnd } from './internals/key-codec.js';
import type { WriteBatchStore } from './internals/write-batch-store.js';
import type { KeyValue, KeyValueStore } from './store-types.js';

/** The typed key-value store processors see: serdes over the task's write batch for the store. */
export class TypedKeyValueStore<K, V> implements KeyValueStore<K, V> {
  constructor(
    readonly name: string,
    private readonly bytes: WriteBatchStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    /** Passed to serdes as the topic (the changelog topic, as in Kafka Streams). */
    private readonly topic: string,
  ) {}

  get(key: K): V | undefined {
    const v = this.bytes.get(this.keySerde.serialize(key, this.topic));
    return v === undefined ? undefined : this.valueSerde.deserialize(v, this.topic);
  }

  put(key: K, value: V | null): void {
    const k = this.keySerde.serialize(key, this.topic);
    this.bytes.put(k, value === null || value === undefined ? null : this.valueSerde.serialize(value, this.topic));
  }

  putIfAbsent(key: K, value: V): V | undefined {
    const existing = this.get(key);
    if (existing === undefined) this.put(key, value);
    return existing;
  }

  delete(key: K): V | undefined {
    const existing = this.get(key);
    if (existing !== undefined) this.put(key, null);
    return existing;
  }

  *range(from?: K, to?: K): IterableIterator<KeyValue<K, V>> {
    const gte = from === undefined ? undefined : this.keySerde.serialize(from, this.topic);
    const lte = to === undefined ? undefined : this.keySerde.serialize(to, this.topic);
    yield* this.decode(this.bytes.range({ gte, lte }));
  }

  *prefixScan<P>(prefix: P, prefixSerde?: { serialize(value: P, topic: string): Buffer }): IterableIterator<KeyValue<K, V>> {
    const p = (prefixSerde ?? (this.keySerde as unknown as Serde<P>)).serialize(prefix, this.topic);
    yield* this.decode(this.bytes.range({ gte: p, lt: prefixEnd(p) }));
  }

  *all(): IterableIterator<KeyValue<K, V>> {
    yield* this.decode(this.bytes.range({}));
  }

  /** Committed keys plus this batch's new ones, minus nothing: an estimate, as in Kafka Streams. */
  approximateCount(): number {
    return this.bytes.approximateCount();
  }

  private *decode(entries: Iterable<{ key: Buffer; value: Buffer }>): IterableIterator<KeyValue<K, V>> {
    for (const e of entries) yield { key: this.keySerde.deserialize(e.key, this.topic), value: this.valueSerde.deserialize(e.value, this.topic) };
  }
}
