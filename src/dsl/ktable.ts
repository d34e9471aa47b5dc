import { TopologyError } from '../errors/index.js';
import type { Serde } from '../serde/serde.js';
import type { Windowed } from '../state/store-types.js';
import type { Change } from './internals/change.js';
import type { BuilderContext } from './internals/builder-context.js';
import { SuppressProcessor, TableFilterProcessor, TableMapValuesProcessor, TableToStreamProcessor } from './internals/stateful-processors.js';
import { TableGroupByProcessor } from './internals/table-grouping.js';
import { TableJoinMergeProcessor, TableTableJoinProcessor, type TableJoinKind } from './internals/table-table-join.js';
import { KGroupedTable } from './kgrouped-table.js';
import type { Grouped, Named } from './kstream.js';
import type { KStream } from './kstream.js';
import type { Materialized } from './materialized.js';

/** The suppression of `suppress()`: only final results of windows, once they close. */
export interface Suppressed {
  readonly kind: 'until-window-closes';
}

/** Emit one result per window, when stream time passes its end plus grace (Kafka Streams' untilWindowCloses). */
export function untilWindowCloses(): Suppressed {
  return { kind: 'until-window-closes' };
}

/**
 * A changelog stream read as a table: the latest value per key. Updates flow downstream as
 * changes; `toStream()` turns them back into records. Every KTable is materialized in a store
 * (its name is `queryableStoreName`), which interactive queries and joins read.
 */
export class KTable<K, V> {
  /** @internal */
  constructor(
    /** @internal */ readonly ctx: BuilderContext,
    /** @internal */ readonly nodeName: string,
    /** @internal */ readonly keySerde: Serde<K> | undefined,
    /** @internal */ readonly valueSerde: Serde<V> | undefined,
    /** The store holding this table's current values (undefined for windowed or suppressed results). */
    readonly queryableStoreName: string | undefined,
    /** @internal Set on the results of windowed aggregations: their grace, for suppress(). */
    readonly windowGraceMs?: number,
  ) {}

  /** Keeps the keys whose value passes; a key whose value stops passing is deleted downstream. */
  filter(predicate: (key: K, value: V) => boolean, options?: Named & Materialized<K, V>): KTable<K, V> {
    return this.filterImpl(predicate, true, 'KTABLE-FILTER', options);
  }

  filterNot(predicate: (key: K, value: V) => boolean, options?: Named & Materialized<K, V>): KTable<K, V> {
    return this.filterImpl(predicate, false, 'KTABLE-FILTER', options);
  }

  /** Maps each value (and old value), keeping keys. */
  mapValues<VR>(mapper: (value: V, key: K) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR> {
    const name = this.ctx.nodeName('KTABLE-MAPVALUES', options?.name);
    const store = this.materialize(options, name, options?.value);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new TableMapValuesProcessor(store, mapper), stores: [store] });
    return this.ctx.factories.table<K, VR>(this.ctx, name, this.keySerde, options?.value, store, this.windowGraceMs);
  }

  /** The table's updates as a stream of records: the new value per change (null: deleted). */
  toStream(named?: Named): KStream<K, V> {
    const name = this.ctx.nodeName('KTABLE-TOSTREAM', named?.name);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new TableToStreamProcessor(), stores: [] });
    const keySerde = this.windowGraceMs !== undefined && this.keySerde !== undefined ? (this.ctx.windowedSerde(this.keySerde) as unknown as Serde<K>) : this.keySerde;
    return this.ctx.factories.stream<K, V>(this.ctx, name, keySerde, this.valueSerde, false);
  }

  /**
   * Holds back updates of a windowed table and emits each window's final value once the window
   * closes (end + grace <= stream time).
   */
  suppress(suppressed: Suppressed, named?: Named): KTable<K, V> {
    if (suppressed?.kind !== 'until-window-closes') throw new TopologyError('suppress() takes untilWindowCloses()');
    if (this.windowGraceMs === undefined) throw new TopologyError('suppress(untilWindowCloses()) works on the result of a windowed aggregation (windowedBy(...).count() etc.)');
    const name = this.ctx.nodeName('KTABLE-SUPPRESS', named?.name);
    const innerKey = this.ctx.requireSerde('key', undefined, this.keySerde as Serde<unknown> | undefined, `suppress at '${name}'`);
    const value = this.ctx.requireSerde('value', undefined, this.valueSerde, `suppress at '${name}'`);
    const store = this.ctx.declareStore({ name: `${name}-store`, kind: 'key-value', keySerde: rawBytes, valueSerde: rawBytes, changelog: 'internal' });
    const windowed = this.ctx.windowedSerde(innerKey);
    const grace = this.windowGraceMs;
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new SuppressProcessor<unknown, V>(store, grace, windowed, value), stores: [store] });
    return this.ctx.factories.table<K, V>(this.ctx, name, this.keySerde, this.valueSerde, undefined, this.windowGraceMs);
  }

  /**
   * Joins with another table on the key: the result has a row for each key present in both
   * tables, and is updated whenever either side changes; a tombstone on either side retracts
   * the key's result (a null value downstream). Both tables must be co-partitioned.
   * @example orders.join(customers, (o, c) => ({ ...o, customer: c.name }), { store: 'orders-with-customers' })
   */
  join<VO, VR>(other: KTable<K, VO>, joiner: (value: V, otherValue: VO, key: K) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR> {
    return this.joinImpl(other, joiner as (v: V | null, o: VO | null, k: K) => VR, 'inner', options);
  }

  /** Like join, with a row for every key of this table (joined with null while the other has none). */
  leftJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V, otherValue: VO | null, key: K) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR> {
    return this.joinImpl(other, joiner as (v: V | null, o: VO | null, k: K) => VR, 'left', options);
  }

  /** Like join, with a row for every key of either table (the missing side is null). */
  outerJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V | null, otherValue: VO | null, key: K) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR> {
    return this.joinImpl(other, joiner, 'outer', options);
  }

  /**
   * Re-groups the table's rows by a new key: `groupBy((key, value) => [groupKey, groupValue])`,
   * then aggregate with an adder and a subtractor. Always goes through a repartition topic.
   * @example users.groupBy((_, u) => [u.region, u]).count()
   */
  groupBy<KR, VR>(selector: (key: K, value: V) => readonly [KR, VR], grouped?: Grouped<KR, VR>): KGroupedTable<KR, VR> {
    if (this.windowGraceMs !== undefined) throw new TopologyError('groupBy on a windowed table is not supported; use toStream() first');
    if (typeof selector !== 'function') throw new TopologyError('KTable.groupBy() takes a function (key, value) => [newKey, newValue]');
    const name = this.ctx.nodeName('KTABLE-SELECT', grouped?.name);
    const keySerde = this.ctx.requireSerde('key', grouped?.key, undefined, `groupBy at '${name}'`) as Serde<KR>;
    const valueSerde = this.ctx.requireSerde('value', grouped?.value, undefined, `groupBy at '${name}'`) as Serde<VR>;
    const topic = { name: '' };
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new TableGroupByProcessor<K, V, KR, VR>(selector, keySerde, topic), stores: [] });
    return new KGroupedTable<KR, VR>(this.ctx, name, keySerde, valueSerde, grouped?.name, topic);
  }

  private joinImpl<VO, VR>(other: KTable<K, VO>, joiner: (value: V | null, otherValue: VO | null, key: K) => VR, kind: TableJoinKind, options?: Named & Materialized<K, VR>): KTable<K, VR> {
    if (!(other instanceof KTable)) throw new TopologyError('KTable join: the other side must be a KTable (to join a stream, join from the stream: stream.join(table, ...))');
    if (other.ctx !== this.ctx) throw new TopologyError('join: both tables must come from the same builder');
    if (typeof joiner !== 'function') throw new TopologyError('KTable join: the joiner must be a function (value, otherValue, key) => result');
    if (this.windowGraceMs !== undefined || other.windowGraceMs !== undefined) throw new TopologyError('joins of windowed tables are not supported; join their streams or use toStream() first');
    const thisStore = this.queryableStoreName;
    const otherStore = other.queryableStoreName;
    if (thisStore === undefined || otherStore === undefined) throw new TopologyError('join: a table is not materialized (a suppressed table); join before suppress()');
    const prefix = kind === 'inner' ? 'KTABLE-JOIN' : kind === 'left' ? 'KTABLE-LEFT' : 'KTABLE-OUTER';
    const named = options?.name;
    const thisName = this.ctx.nodeName(`${prefix}THIS`, named === undefined ? undefined : `${named}-join-this`);
    const otherName = this.ctx.nodeName(`${prefix}OTHER`, named === undefined ? undefined : `${named}-join-other`);
    const name = this.ctx.nodeName('KTABLE-MERGE', named);
    const keySerde = this.keySerde ?? other.keySerde;
    const store = this.ctx.declareStore({
      name: options?.store ?? `${name}-STATE-STORE`,
      kind: 'key-value',
      keySerde: this.ctx.requireSerde('key', options?.key, keySerde, `join at '${name}'`),
      valueSerde: this.ctx.requireSerde('value', options?.value, undefined, `join at '${name}'`),
      backend: options?.backend,
      changelog: options?.logging === false ? 'none' : 'internal',
    });
    this.ctx.topology.addProcessor({
      name: thisName,
      parents: [this.nodeName],
      supplier: () => new TableTableJoinProcessor<K, V, VO, VR>(otherStore, kind, true, joiner),
      stores: [otherStore],
    });
    this.ctx.topology.addProcessor({ name: otherName, parents: [other.nodeName], supplier: () => new TableTableJoinProcessor<K, V, VO, VR>(thisStore, kind, false, joiner), stores: [thisStore] });
    this.ctx.topology.addProcessor({ name, parents: [thisName, otherName], supplier: () => new TableJoinMergeProcessor<K, VR>(store), stores: [store] });
    this.ctx.topology.addCopartitionGroup([this.nodeName, other.nodeName]);
    return this.ctx.factories.table<K, VR>(this.ctx, name, keySerde, options?.value, store);
  }

  private filterImpl(predicate: (key: K, value: V) => boolean, keep: boolean, prefix: string, options?: Named & Materialized<K, V>): KTable<K, V> {
    const name = this.ctx.nodeName(prefix, options?.name);
    const store = this.materialize(options, name, options?.value ?? this.valueSerde);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new TableFilterProcessor(store, predicate, keep), stores: [store] });
    return this.ctx.factories.table<K, V>(this.ctx, name, this.keySerde, this.valueSerde, store, this.windowGraceMs);
  }

  private materialize<VS>(options: Materialized<K, VS> | undefined, node: string, valueSerde: Serde<VS> | undefined): string {
    if (this.windowGraceMs !== undefined) throw new TopologyError(`'${node}': filter and mapValues on a windowed table are not supported yet; use toStream() first`);
    return this.ctx.declareStore({
      name: options?.store ?? `${node}-STATE-STORE`,
      kind: 'key-value',
      keySerde: this.ctx.requireSerde('key', options?.key, this.keySerde, `'${node}'`),
      valueSerde: this.ctx.requireSerde('value', valueSerde, undefined, `'${node}'`),
      backend: options?.backend,
      changelog: options?.logging === false ? 'none' : 'internal',
    });
  }
}

const rawBytes: Serde<Buffer> = { name: 'bytes', serialize: (b) => b, deserialize: (b) => b };

export type { Change, Windowed };
