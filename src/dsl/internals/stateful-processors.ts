import type { InternalProcessorContext } from '../../processor/processor-node.js';
import type { Processor, StreamRecord } from '../../processor/types.js';
import type { KeyValueStore, WindowStore, Windowed } from '../../state/store-types.js';
import type { TimeWindows } from '../windows.js';
import { prefixEnd } from '../../state/internals/key-codec.js';
import { change, type Change } from './change.js';
import { keyIdentity, UpdateCache } from './update-cache.js';

/**
 * The stateful operators of the DSL: aggregations over a key-value or window store, tables
 * (source, filter, mapValues, toStream) and the stream-table join. They emit Change records
 * (new and old value) between table operators.
 */

abstract class StoreProcessor<KIn, VIn, KOut, VOut, S> implements Processor<KIn, VIn, KOut, VOut> {
  protected ctx!: InternalProcessorContext<KOut, VOut>;
  protected store!: S;
  constructor(protected readonly storeName: string | undefined) {}
  init(context: InternalProcessorContext<KOut, VOut>): void {
    this.ctx = context;
    if (this.storeName !== undefined) this.store = context.getStateStore<S>(this.storeName);
  }
  abstract process(record: StreamRecord<KIn, VIn>): void;
}

/**
 * An aggregation that forwards its updates through an UpdateCache when the application sets
 * recordCacheSize (one Change per key per commit), else each one at once.
 */
abstract class CachingAggregation<KIn, VIn, KOut, VA, S> extends StoreProcessor<KIn, VIn, KOut, Change<VA>, S> {
  private cache: UpdateCache<KOut, VA> | undefined;
  override init(context: InternalProcessorContext<KOut, Change<VA>>): void {
    super.init(context);
    const size = context.recordCacheSize;
    this.cache = size > 0 ? new UpdateCache<KOut, VA>(size, (record) => this.ctx.forwardHeld(() => this.ctx.forward(record))) : undefined;
  }
  protected emit(key: KOut, next: VA, old: VA | undefined, r: StreamRecord<KIn, VIn>): void {
    if (this.cache === undefined) this.ctx.forward({ key, value: change(next, old), timestamp: r.timestamp, headers: r.headers });
    else this.cache.update(keyIdentity(key), key, next, old, r.timestamp, r.headers);
  }
  beforeCommit(): void {
    this.cache?.flush();
  }
  discardUncommitted(): void {
    this.cache?.discard();
  }
}

/** groupByKey().aggregate / count: fold each value into the key's aggregate. */
export class StreamAggregateProcessor<K, V, VA> extends CachingAggregation<K, V, K, VA, KeyValueStore<K, VA>> {
  constructor(
    storeName: string,
    private readonly initializer: () => VA,
    private readonly aggregator: (key: K, value: V, aggregate: VA) => VA,
  ) {
    super(storeName);
  }
  process(r: StreamRecord<K, V>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-value');
    const old = this.store.get(r.key);
    const next = this.aggregator(r.key, r.value, old === undefined ? this.initializer() : old);
    this.store.put(r.key, next);
    this.emit(r.key, next, old, r);
  }
}

/** groupByKey().reduce: the first value of a key is its aggregate, later ones fold in. */
export class StreamReduceProcessor<K, V> extends CachingAggregation<K, V, K, V, KeyValueStore<K, V>> {
  constructor(storeName: string, private readonly reducer: (aggregate: V, value: V) => V) {
    super(storeName);
  }
  process(r: StreamRecord<K, V>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-value');
    const old = this.store.get(r.key);
    const next = old === undefined ? r.value : this.reducer(old, r.value);
    this.store.put(r.key, next);
    this.emit(r.key, next, old, r);
  }
}

/** A table read from a topic (or made from a stream): upserts, and null values delete. */
export class TableSourceProcessor<K, V> extends StoreProcessor<K, V, K, Change<V>, KeyValueStore<K, V>> {
  process(r: StreamRecord<K, V>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    const old = this.store.get(r.key);
    this.store.put(r.key, r.value ?? null);
    if (old === undefined && (r.value === null || r.value === undefined)) return; // deleting nothing
    this.ctx.forward({ key: r.key, value: change(r.value, old), timestamp: r.timestamp, headers: r.headers });
  }
}

/** KTable.filter: a key whose new value fails the predicate is deleted downstream. */
export class TableFilterProcessor<K, V> extends StoreProcessor<K, Change<V>, K, Change<V>, KeyValueStore<K, V>> {
  constructor(storeName: string, private readonly predicate: (key: K, value: V) => boolean, private readonly keep: boolean) {
    super(storeName);
  }
  private pass(key: K, v: V | null): V | null {
    return v !== null && this.predicate(key, v) === this.keep ? v : null;
  }
  process(r: StreamRecord<K, Change<V>>): void {
    const next = this.pass(r.key, r.value.newValue);
    const old = this.pass(r.key, r.value.oldValue);
    if (next === null && old === null) return;
    this.store.put(r.key, next);
    this.ctx.forward({ key: r.key, value: change(next, old), timestamp: r.timestamp, headers: r.headers });
  }
}

/** KTable.mapValues. */
export class TableMapValuesProcessor<K, V, VR> extends StoreProcessor<K, Change<V>, K, Change<VR>, KeyValueStore<K, VR>> {
  constructor(storeName: string, private readonly mapper: (value: V, key: K) => VR) {
    super(storeName);
  }
  process(r: StreamRecord<K, Change<V>>): void {
    const next = r.value.newValue === null ? null : this.mapper(r.value.newValue, r.key);
    const old = r.value.oldValue === null ? null : this.mapper(r.value.oldValue, r.key);
    this.store.put(r.key, next);
    this.ctx.forward({ key: r.key, value: change(next, old), timestamp: r.timestamp, headers: r.headers });
  }
}

/** KTable.toStream: the new value of each change (null for a delete, a tombstone). */
export class TableToStreamProcessor<K, V> extends StoreProcessor<K, Change<V>, K, V | null, undefined> {
  constructor() {
    super(undefined);
  }
  process(r: StreamRecord<K, Change<V>>): void {
    this.ctx.forward({ key: r.key, value: r.value.newValue, timestamp: r.timestamp, headers: r.headers });
  }
}

/** KStream-KTable join: each stream record looks up the table's current value for its key. */
export class StreamTableJoinProcessor<K, V, VT, VR> extends StoreProcessor<K, V, K, VR, KeyValueStore<K, VT>> {
  constructor(storeName: string, private readonly joiner: (value: V, tableValue: VT | null, key: K) => VR, private readonly left: boolean) {
    super(storeName);
  }
  process(r: StreamRecord<K, V>): void {
    if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) return this.ctx.recordDropped('null-key-or-value');
    const other = this.store.get(r.key);
    if (other === undefined && !this.left) return;
    this.ctx.forward({ key: r.key, value: this.joiner(r.value, other ?? null, r.key), timestamp: r.timestamp, headers: r.headers });
  }
}

/**
 * windowedBy(TimeWindows).aggregate / count / reduce: folds each record into every window it
 * falls in; windows that closed (end <= stream time - grace) drop the record as late.
 */
export class WindowAggregateProcessor<K, V, VA> extends CachingAggregation<K, V, Windowed<K>, VA, WindowStore<K, VA>> {
  private observed = -Infinity;
  constructor(
    storeName: string,
    private readonly windows: TimeWindows,
    private readonly initializer: () => VA,
    private readonly aggregator: (key: K, value: V, aggregate: VA) => VA,
  ) {
    super(storeName);
  }
  process(r: StreamRecord<K, V>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-value');
    if (r.timestamp > this.observed) this.observed = r.timestamp;
    const closeTime = this.observed - this.windows.graceMs;
    let applied = 0;
    for (const start of this.windows.windowStartsFor(r.timestamp)) {
      const end = start + this.windows.sizeMs;
      if (end <= closeTime) continue;
      const old = this.store.fetch(r.key, start);
      const next = this.aggregator(r.key, r.value, old === undefined ? this.initializer() : old);
      this.store.put(r.key, next, start);
      applied++;
      this.emit({ key: r.key, window: { start, end } }, next, old, r);
    }
    if (applied === 0) this.ctx.recordDropped('late-record');
  }
}

/**
 * suppress(untilWindowCloses()): holds the latest change of each window and emits it once,
 * when stream time passes the window's end plus grace. The buffer is a store, so it survives
 * restarts through its changelog.
 */
export class SuppressProcessor<K, V> extends StoreProcessor<Windowed<K>, Change<V>, Windowed<K>, Change<V>, KeyValueStore<Buffer, Buffer>> {
  private observed = -Infinity;
  constructor(
    storeName: string,
    private readonly graceMs: number,
    private readonly keySerde: { serialize(k: Windowed<K>, t: string): Buffer; deserialize(b: Buffer, t: string): Windowed<K> },
    private readonly valueSerde: { serialize(v: V, t: string): Buffer; deserialize(b: Buffer, t: string): V },
  ) {
    super(storeName);
  }
  process(r: StreamRecord<Windowed<K>, Change<V>>): void {
    if (r.timestamp > this.observed) this.observed = r.timestamp;
    const closeTime = this.observed - this.graceMs;
    if (r.key.window.end > closeTime) {
      // Buffer by window end first, so closed windows come out in end order with one scan.
      const k = this.bufferKey(r.key);
      const v = r.value.newValue;
      // A deleted window (a session merged into a larger one) has no final result: unbuffer it,
      // as Kafka Streams' final-results suppression drops tombstones.
      if (v === null) {
        this.store.delete(k);
        return this.evict(closeTime);
      }
      const bytes = v === null ? Buffer.alloc(9) : Buffer.concat([Buffer.alloc(9), this.valueSerde.serialize(v, this.storeName!)]);
      bytes.writeUInt8(v === null ? 0 : 1, 0);
      bytes.writeDoubleBE(r.timestamp, 1);
      this.store.put(k, bytes);
    }
    this.evict(closeTime);
  }
  private bufferKey(key: Windowed<K>): Buffer {
    const kb = this.keySerde.serialize(key, this.storeName!);
    const out = Buffer.allocUnsafe(8 + kb.length);
    out.writeDoubleBE(key.window.end, 0);
    kb.copy(out, 8);
    return out;
  }
  private evict(closeTime: number): void {
    if (closeTime < 0) return; // (doubles only sort as bytes when non-negative)
    const end = Buffer.alloc(8);
    end.writeDoubleBE(closeTime, 0);
    // Every buffered key starts with its window end: scan all keys whose first 8 bytes are <= closeTime.
    const upTo = prefixEnd(end);
    const due: { key: Buffer; value: Buffer }[] = [];
    for (const e of this.store.range(undefined, upTo)) due.push(e);
    for (const e of due) {
      this.store.delete(e.key);
      const key = this.keySerde.deserialize(e.key.subarray(8), this.storeName!);
      if (key.window.end > closeTime) continue;
      const hasValue = e.value.readUInt8(0) === 1;
      const value = hasValue ? this.valueSerde.deserialize(e.value.subarray(9), this.storeName!) : null;
      this.ctx.forward({ key, value: change(value, null), timestamp: e.value.readDoubleBE(1), headers: {} });
    }
  }
}
