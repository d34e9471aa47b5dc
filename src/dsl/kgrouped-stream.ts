import { TopologyError } from '../errors/index.js';
import type { Serde } from '../serde/serde.js';
import { serdes } from '../serde/builtin.js';
import type { Windowed } from '../state/store-types.js';
import type { BuilderContext } from './internals/builder-context.js';
import { MaxTimestampSerde, SlidingWindowAggregateProcessor } from './internals/sliding-window-aggregate.js';
import { StreamAggregateProcessor, StreamReduceProcessor, WindowAggregateProcessor } from './internals/stateful-processors.js';
import type { KTable } from './ktable.js';
import type { Named } from './kstream.js';
import type { Materialized } from './materialized.js';
import { SessionWindowedKStream } from './session-windowed-kstream.js';
import { SessionWindows, SlidingWindows, TimeWindows } from './windows.js';

/**
 * A stream grouped by key (after `groupByKey()` or `groupBy()`), ready to aggregate. Records
 * with a null key or value are skipped (and counted as dropped), as in Kafka Streams.
 */
export class KGroupedStream<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuilderContext,
    private readonly nodeName: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {}

  /** The number of records per key. */
  count(options?: Named & Materialized<K, number>): KTable<K, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, { value: serdes.json<number>(), ...options, name: options?.name ?? this.ctx.nodeName('KSTREAM-COUNT') });
  }

  /** Combines the values of a key: the first value is the start, `reducer(aggregate, value)` folds in the rest. */
  reduce(reducer: (aggregate: V, value: V) => V, options?: Named & Materialized<K, V>): KTable<K, V> {
    const name = options?.name ?? this.ctx.nodeName('KSTREAM-REDUCE');
    const store = this.store(name, options, options?.value ?? this.valueSerde);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new StreamReduceProcessor<K, V>(store, reducer), stores: [store] });
    return this.ctx.factories.table<K, V>(this.ctx, name, this.keySerde, options?.value ?? this.valueSerde, store);
  }

  /**
   * Folds the values of each key into an aggregate, starting from `initializer()`.
   * @example s.groupByKey().aggregate(() => ({ n: 0 }), (_k, o, a) => ({ n: a.n + 1 }), { store: 'counts' })
   */
  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, options?: Named & Materialized<K, VA>): KTable<K, VA> {
    const name = options?.name ?? this.ctx.nodeName('KSTREAM-AGGREGATE');
    const store = this.store(name, options, options?.value);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new StreamAggregateProcessor<K, V, VA>(store, initializer, aggregator), stores: [store] });
    return this.ctx.factories.table<K, VA>(this.ctx, name, this.keySerde, options?.value ?? (this.ctx.config.defaultValueSerde as Serde<VA> | undefined), store);
  }

  /**
   * Aggregates per key and window: fixed time windows (tumbling, hopping), sliding windows, or
   * sessions.
   */
  windowedBy(windows: TimeWindows | SlidingWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  windowedBy(windows: TimeWindows | SlidingWindows | SessionWindows): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> {
    if (windows instanceof SessionWindows) return new SessionWindowedKStream(this.ctx, this.nodeName, this.keySerde, this.valueSerde, windows);
    if (!(windows instanceof TimeWindows) && !(windows instanceof SlidingWindows)) {
      throw new TopologyError('windowedBy() takes TimeWindows, SlidingWindows or SessionWindows');
    }
    return new TimeWindowedKStream(this.ctx, this.nodeName, this.keySerde, this.valueSerde, windows);
  }

  private store<VS>(node: string, options: Materialized<K, VS> | undefined, valueSerde: Serde<VS> | undefined): string {
    return this.ctx.declareStore({
      name: options?.store ?? `${node}-STATE-STORE`,
      kind: 'key-value',
      keySerde: options?.key ?? this.keySerde,
      valueSerde: this.ctx.requireSerde('value', valueSerde, undefined, `the store of '${node}'`),
      backend: options?.backend,
      changelog: options?.logging === false ? 'none' : 'internal',
    });
  }
}

/**
 * A grouped stream cut into time windows (TimeWindows or SlidingWindows): aggregations give a
 * table keyed by `{ key, window }`. Sliding windows are [start, end] with both ends inclusive.
 */
export class TimeWindowedKStream<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuilderContext,
    private readonly nodeName: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly windows: TimeWindows | SlidingWindows,
  ) {}

  count(options?: Named & Materialized<K, number>): KTable<Windowed<K>, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, { value: serdes.json<number>(), ...options, name: options?.name ?? this.ctx.nodeName('KSTREAM-COUNT') });
  }

  reduce(reducer: (aggregate: V, value: V) => V, options?: Named & Materialized<K, V>): KTable<Windowed<K>, V> {
    // A reduce is an aggregate whose start is "no value yet".
    const none = Symbol('none');
    return this.aggregate<V>(
      () => none as unknown as V,
      (_k, v, agg) => ((agg as unknown) === none ? v : reducer(agg, v)),
      { value: this.valueSerde, ...options, name: options?.name ?? this.ctx.nodeName('KSTREAM-REDUCE') },
    );
  }

  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, options?: Named & Materialized<K, VA>): KTable<Windowed<K>, VA> {
    const name = options?.name ?? this.ctx.nodeName('KSTREAM-AGGREGATE');
    const valueSerde = this.ctx.requireSerde('value', options?.value, undefined, `the store of '${name}'`);
    const w = this.windows;
    if (w instanceof SlidingWindows) return this.slidingAggregate(name, valueSerde, w, initializer, aggregator, options);
    const store = this.ctx.declareStore({
      name: options?.store ?? `${name}-STATE-STORE`,
      kind: 'window',
      keySerde: options?.key ?? this.keySerde,
      valueSerde,
      backend: options?.backend,
      changelog: options?.logging === false ? 'none' : 'internal',
      retentionMs: options?.retentionMs ?? Math.max(w.sizeMs + w.graceMs, 24 * 3600_000),
    });
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new WindowAggregateProcessor<K, V, VA>(store, w, initializer, aggregator), stores: [store] });
    // The key serde of a windowed table is the inner one; toStream() wraps it in serdes.windowed().
    return this.ctx.factories.table<Windowed<K>, VA>(this.ctx, name, this.keySerde as unknown as Serde<Windowed<K>>, valueSerde, store, w.graceMs);
  }

  private slidingAggregate<VA>(
    name: string,
    valueSerde: Serde<VA>,
    w: SlidingWindows,
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    options: Materialized<K, VA> | undefined,
  ): KTable<Windowed<K>, VA> {
    const minRetention = 2 * w.timeDifferenceMs + w.graceMs;
    if (options?.retentionMs !== undefined && options.retentionMs < minRetention) {
      throw new TopologyError(`'${name}': retentionMs (${options.retentionMs}) must be at least twice the time difference plus grace (${minRetention} ms)`);
    }
    // Each aggregate is stored with its window's latest record timestamp, which the processor needs.
    const stored = new MaxTimestampSerde(valueSerde);
    const store = this.ctx.declareStore({
      name: options?.store ?? `${name}-STATE-STORE`,
      kind: 'window',
      keySerde: options?.key ?? this.keySerde,
      valueSerde: stored,
      backend: options?.backend,
      changelog: options?.logging === false ? 'none' : 'internal',
      retentionMs: options?.retentionMs ?? Math.max(minRetention, 24 * 3600_000),
    });
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new SlidingWindowAggregateProcessor<K, V, VA>(store, w, initializer, aggregator, stored), stores: [store] });
    // The end of a sliding window is inclusive, so it closes 1 ms after end + grace: suppress()
    // waits until then, when no record can change the window any more.
    return this.ctx.factories.table<Windowed<K>, VA>(this.ctx, name, this.keySerde as unknown as Serde<Windowed<K>>, valueSerde, store, w.graceMs + 1);
  }
}
