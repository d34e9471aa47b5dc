import { TopologyError } from '../errors/index.js';
import type { Serde } from '../serde/serde.js';
import { serdes } from '../serde/builtin.js';
import type { Windowed } from '../state/store-types.js';
import type { BuilderContext } from './internals/builder-context.js';
import { SessionWindowAggregateProcessor } from './internals/session-window-aggregate.js';
import type { KTable } from './ktable.js';
import type { Named } from './kstream.js';
import type { Materialized } from './materialized.js';
import type { SessionWindows } from './windows.js';

/**
 * A grouped stream cut into sessions (`windowedBy(SessionWindows...)`): aggregations give a
 * table keyed by `{ key, window: { start, end } }`, where a session runs from its first
 * record's timestamp to its last one's (both inclusive). When a record bridges two sessions
 * they merge: the table deletes them (tombstones) and gets the merged session.
 */
export class SessionWindowedKStream<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuilderContext,
    private readonly nodeName: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly windows: SessionWindows,
  ) {}

  /** The number of records per session. */
  count(options?: Named & Materialized<K, number>): KTable<Windowed<K>, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, (_k, a, b) => a + b, {
      value: serdes.json<number>(),
      ...options,
      name: options?.name ?? this.ctx.nodeName('KSTREAM-COUNT'),
    });
  }

  /** Combines the values of a session; merging sessions combines their aggregates with the same reducer. */
  reduce(reducer: (aggregate: V, value: V) => V, options?: Named & Materialized<K, V>): KTable<Windowed<K>, V> {
    // A reduce is an aggregate whose start is "no value yet" (never stored: a record is always folded in).
    const none = Symbol('none');
    const fold = (agg: V, v: V): V => ((agg as unknown) === none ? v : reducer(agg, v));
    return this.aggregate<V>(() => none as unknown as V, (_k, v, agg) => fold(agg, v), (_k, a, b) => fold(a, b), {
      value: this.valueSerde,
      ...options,
      name: options?.name ?? this.ctx.nodeName('KSTREAM-REDUCE'),
    });
  }

  /**
   * Folds the values of each session into an aggregate, starting from `initializer()`;
   * `merger(key, a, b)` combines the aggregates of sessions that a record joins together.
   * @example s.groupByKey().windowedBy(SessionWindows.ofInactivityGap(30_000)).aggregate(() => 0, (_k, v, a) => a + v.amount, (_k, a, b) => a + b)
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, aggregate1: VA, aggregate2: VA) => VA,
    options?: Named & Materialized<K, VA>,
  ): KTable<Windowed<K>, VA> {
    if (typeof merger !== 'function') throw new TopologyError('SessionWindowedKStream.aggregate(initializer, aggregator, merger, options): the merger (combining two sessions\' aggregates) is required');
    const name = options?.name ?? this.ctx.nodeName('KSTREAM-AGGREGATE');
    const valueSerde = this.ctx.requireSerde('value', options?.value, undefined, `the store of '${name}'`);
    const w = this.windows;
    const minRetention = w.inactivityGapMs + w.graceMs;
    if (options?.retentionMs !== undefined && options.retentionMs < minRetention) {
      throw new TopologyError(`'${name}': retentionMs (${options.retentionMs}) must be at least the inactivity gap plus grace (${minRetention} ms)`);
    }
    const store = this.ctx.declareStore({
      name: options?.store ?? `${name}-STATE-STORE`,
      kind: 'session',
      keySerde: options?.key ?? this.keySerde,
      valueSerde,
      backend: options?.backend,
      changelog: options?.logging === false ? 'none' : 'internal',
      retentionMs: options?.retentionMs ?? Math.max(minRetention, 24 * 3600_000),
    });
    this.ctx.topology.addProcessor({
      name,
      parents: [this.nodeName],
      supplier: () => new SessionWindowAggregateProcessor<K, V, VA>(store, w, initializer, aggregator, merger),
      stores: [store],
    });
    // A session closes gap + grace after its end (Kafka Streams' rule since 3.0), and its end
    // is inclusive: suppress() holds it until stream time passes end + gap + grace, so the
    // result it emits can no longer change (+1 ms).
    return this.ctx.factories.table<Windowed<K>, VA>(this.ctx, name, this.keySerde as unknown as Serde<Windowed<K>>, valueSerde, store, w.inactivityGapMs + w.graceMs + 1);
  }
}
