import { TopologyError } from '../errors/index.js';
import { isProjection, type Projection } from '../eventsourcing/projection.js';
import type { ProcessorSupplier } from '../processor/types.js';
import type { Serde } from '../serde/serde.js';
import type { BackendKind } from '../state/backend/types.js';
import type { StreamPartitioner, TopicNameExtractor } from '../topology/nodes.js';
import { BranchedKStream } from './branched-kstream.js';
import { GlobalKTable } from './global-ktable.js';
import { StreamTableJoinProcessor, TableSourceProcessor } from './internals/stateful-processors.js';
import { StreamGlobalJoinProcessor } from './internals/stream-global-join.js';
import { JoinTimes, StreamStreamJoinProcessor, type StreamStreamJoinSpec } from './internals/stream-stream-join.js';
import type { KGroupedStream } from './kgrouped-stream.js';
import type { KTable } from './ktable.js';
import type { Materialized } from './materialized.js';
import type { BuilderContext } from './internals/builder-context.js';
import {
  FilterProcessor,
  FlatMapProcessor,
  FlatMapValuesProcessor,
  MapProcessor,
  MapValuesProcessor,
  PassThroughProcessor,
  PeekProcessor,
  SelectKeyProcessor,
} from './internals/stateless-processors.js';
import { JoinWindows } from './windows.js';

/** Names an operation; the name appears in describe() and must be unique in the topology. */
export interface Named {
  name?: string;
}

export interface Produced<K, V> extends Named {
  key?: Serde<K>;
  value?: Serde<V>;
  /** Chooses the output partition; default: Kafka's murmur2 of the key bytes, round robin for null keys. */
  partitioner?: StreamPartitioner<K, V>;
}

export interface Repartitioned<K, V> extends Named {
  key?: Serde<K>;
  value?: Serde<V>;
  /** Partitions of the repartition topic; default: the largest input partition count. */
  partitions?: number;
}

/** Serdes for the repartition topic of a grouping (when one is needed), and its name. */
export interface Grouped<K, V> extends Named {
  key?: Serde<K>;
  value?: Serde<V>;
}

/**
 * Serdes and stores of a stream-stream join (Kafka Streams' StreamJoined). The join keeps each
 * side's records in a window store, `<store>-this-join-store` and `<store>-other-join-store`,
 * and (left and outer joins) records still waiting for a partner in
 * `<store>-outer-shared-join-store`; without `store`, names are generated.
 */
export interface StreamJoined<K, V, VO> extends Named {
  store?: string;
  key?: Serde<K>;
  value?: Serde<V>;
  otherValue?: Serde<VO>;
  /** Default: the app's stateBackend ('level' cannot hold join windows: it cannot scan synchronously). */
  backend?: BackendKind;
  /** Log the join stores to changelog topics (default true). */
  logging?: boolean;
}

export interface ProcessOptions extends Named {
  /** State stores the processor uses. */
  stores?: string[];
}

/**
 * A record stream: an unbounded sequence of key-value records. Operations return new streams;
 * nothing runs until the application starts.
 *
 * @example
 * b.stream('orders', { key: serdes.string(), value: serdes.json<Order>() })
 *   .filter((_, o) => o.amount > 0)
 *   .mapValues((o) => ({ ...o, amountCents: Math.round(o.amount * 100) }))
 *   .to('orders-clean', { value: serdes.json() });
 */
export class KStream<K, V> {
  /** @internal */
  constructor(
    /** @internal */ readonly ctx: BuilderContext,
    /** @internal */ readonly nodeName: string,
    /** @internal */ readonly keySerde: Serde<K> | undefined,
    /** @internal */ readonly valueSerde: Serde<V> | undefined,
    /** @internal True once the key may have changed: a stateful step must repartition first. */
    readonly repartitionRequired: boolean = false,
  ) {}

  /** Keeps the records for which the predicate holds. */
  filter(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.chain('KSTREAM-FILTER', named, () => new FilterProcessor(predicate, true), this.keySerde, this.valueSerde, this.repartitionRequired);
  }

  /** Drops the records for which the predicate holds. */
  filterNot(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.chain('KSTREAM-FILTER', named, () => new FilterProcessor(predicate, false), this.keySerde, this.valueSerde, this.repartitionRequired);
  }

  /** Replaces key and value: `map((k, v) => [newKey, newValue])`. Marks the stream for repartitioning. */
  map<KR, VR>(mapper: (key: K, value: V) => readonly [KR, VR], named?: Named): KStream<KR, VR> {
    return this.chain('KSTREAM-MAP', named, () => new MapProcessor(mapper), undefined, undefined, true);
  }

  /** Replaces the value, keeping the key: `mapValues((value, key) => newValue)`. */
  mapValues<VR>(mapper: (value: V, key: K) => VR, named?: Named): KStream<K, VR> {
    return this.chain('KSTREAM-MAPVALUES', named, () => new MapValuesProcessor(mapper), this.keySerde, undefined, this.repartitionRequired);
  }

  /** Turns each record into zero or more records: `flatMap((k, v) => [[k1, v1], [k2, v2]])`. */
  flatMap<KR, VR>(mapper: (key: K, value: V) => Iterable<readonly [KR, VR]>, named?: Named): KStream<KR, VR> {
    return this.chain('KSTREAM-FLATMAP', named, () => new FlatMapProcessor(mapper), undefined, undefined, true);
  }

  /** Turns each value into zero or more values under the same key. */
  flatMapValues<VR>(mapper: (value: V, key: K) => Iterable<VR>, named?: Named): KStream<K, VR> {
    return this.chain('KSTREAM-FLATMAPVALUES', named, () => new FlatMapValuesProcessor(mapper), this.keySerde, undefined, this.repartitionRequired);
  }

  /** Sets a new key computed from the record. Marks the stream for repartitioning. */
  selectKey<KR>(selector: (key: K, value: V) => KR, named?: Named): KStream<KR, V> {
    return this.chain('KSTREAM-KEY-SELECT', named, () => new SelectKeyProcessor(selector), undefined, this.valueSerde, true);
  }

  /** Runs an action on each record and passes it on unchanged. */
  peek(action: (key: K, value: V) => void, named?: Named): KStream<K, V> {
    return this.chain('KSTREAM-PEEK', named, () => new PeekProcessor(action, true), this.keySerde, this.valueSerde, this.repartitionRequired);
  }

  /** Runs an action on each record; ends the stream. */
  foreach(action: (key: K, value: V) => void, named?: Named): void {
    this.chain('KSTREAM-FOREACH', named, () => new PeekProcessor(action, false), undefined, undefined, false);
  }

  /**
   * Splits the stream by predicates: each record goes to the first branch that matches.
   * @example
   * const branches = s.split({ name: 'size-' })
   *   .branch((_, o) => o.amount >= 100, 'large')
   *   .defaultBranch('small');
   * branches['size-large'].to('large-orders');
   */
  split(named?: Named): BranchedKStream<K, V> {
    return new BranchedKStream<K, V>(this.ctx, this.nodeName, named?.name ?? '', (node) => new KStream<K, V>(this.ctx, node, this.keySerde, this.valueSerde, this.repartitionRequired));
  }

  /** Interleaves this stream with another (in arrival order per task). */
  merge(other: KStream<K, V>, named?: Named): KStream<K, V> {
    if (other.ctx !== this.ctx) throw new TopologyError('merge: both streams must come from the same builder');
    const name = this.ctx.nodeName('KSTREAM-MERGE', named?.name);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName, other.nodeName], supplier: () => new PassThroughProcessor(), stores: [] });
    const keySerde = this.keySerde === other.keySerde ? this.keySerde : undefined;
    const valueSerde = this.valueSerde === other.valueSerde ? this.valueSerde : undefined;
    return new KStream(this.ctx, name, keySerde, valueSerde, this.repartitionRequired || other.repartitionRequired);
  }

  /** Hands each record to your own Processor (Processor API); the stream continues with what it forwards. */
  process<KR = K, VR = V>(supplier: ProcessorSupplier<K, V, KR, VR>, options?: ProcessOptions): KStream<KR, VR> {
    if (typeof supplier !== 'function') throw new TopologyError('process() takes a function that returns a new processor: process(() => new MyProcessor())');
    const name = this.ctx.nodeName('KSTREAM-PROCESSOR', options?.name);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: supplier as ProcessorSupplier<any, any, any, any>, stores: options?.stores ?? [] });
    return new KStream<KR, VR>(this.ctx, name, undefined, undefined, true);
  }

  /**
   * Groups records by their current key for an aggregation. When the key may have changed
   * upstream (map, selectKey, flatMap...), records first go through a repartition topic so that
   * each key is aggregated in one task.
   */
  groupByKey(options?: Grouped<K, V>): KGroupedStream<K, V> {
    const keySerde = this.ctx.requireSerde('key', options?.key, this.keySerde, 'groupByKey()');
    const valueSerde = this.ctx.requireSerde('value', options?.value, this.valueSerde, 'groupByKey()');
    let node = this.nodeName;
    if (this.repartitionRequired) {
      node = this.repartition({ name: options?.name ?? this.ctx.nodeName('KSTREAM-AGGREGATE-GROUPBY'), key: keySerde, value: valueSerde }).nodeName;
    }
    return this.ctx.factories.groupedStream(this.ctx, node, keySerde, valueSerde);
  }

  /** Groups by a new key computed from each record; always repartitions (`<app>-<name>-repartition`). */
  groupBy<KR>(selector: (key: K, value: V) => KR, options?: Grouped<KR, V>): KGroupedStream<KR, V> {
    const name = options?.name ?? this.ctx.nodeName('KSTREAM-GROUPBY');
    const rekeyed = this.chain<KR, V>('KSTREAM-KEY-SELECT', undefined, () => new SelectKeyProcessor(selector), options?.key, this.valueSerde, true);
    return rekeyed.groupByKey({ ...options, name });
  }

  /** The stream read as a table: the latest value per key; null values delete. */
  toTable(options?: Named & Materialized<K, V>): KTable<K, V> {
    const name = this.ctx.nodeName('KSTREAM-TOTABLE', options?.name);
    const source = this.repartitionRequired ? this.repartition({ name: `${name}-repartition-source`, key: options?.key, value: options?.value }) : this;
    const store = this.ctx.declareStore({
      name: options?.store ?? `${name}-STATE-STORE`,
      kind: 'key-value',
      keySerde: this.ctx.requireSerde('key', options?.key, this.keySerde, 'toTable()'),
      valueSerde: this.ctx.requireSerde('value', options?.value, this.valueSerde, 'toTable()'),
      backend: options?.backend,
      changelog: options?.logging === false ? 'none' : 'internal',
    });
    this.ctx.topology.addProcessor({ name, parents: [source.nodeName], supplier: () => new TableSourceProcessor(store), stores: [store] });
    return this.ctx.factories.table(this.ctx, name, options?.key ?? this.keySerde, options?.value ?? this.valueSerde, store);
  }

  /**
   * Joins with another stream: each pair of records with the same key whose timestamps are
   * within the window (`JoinWindows.ofTimeDifference(ms).grace(ms)`) gives a result, stamped
   * with the later of the two timestamps. Both sides are kept in window stores; a side whose key
   * may have changed is repartitioned first, so that the two are co-partitioned.
   * @example clicks.join(views, (c, v) => ({ ...c, view: v }), JoinWindows.ofTimeDifference(60_000).grace(5_000))
   */
  join<VO, VR>(other: KStream<K, VO>, joiner: (value: V, otherValue: VO, key: K) => VR, windows: JoinWindows, options?: StreamJoined<K, V, VO>): KStream<K, VR>;
  /** Joins each record with the table's current value for its key; records without one are dropped. */
  join<VT, VR>(table: KTable<K, VT>, joiner: (value: V, tableValue: VT, key: K) => VR, named?: Named): KStream<K, VR>;
  /**
   * Joins each record with the row of a global table that `keySelector(key, value)` names;
   * records that find none are dropped. No repartitioning: every instance holds the whole table.
   */
  join<GK, GV, VR>(globalTable: GlobalKTable<GK, GV>, keySelector: (key: K, value: V) => GK, joiner: (value: V, globalValue: GV, key: K) => VR, named?: Named): KStream<K, VR>;
  join(other: unknown, a: any, b?: any, c?: any): KStream<any, any> {
    if (other instanceof KStream) return this.joinStream(other, a, b, 'inner', c);
    if (other instanceof GlobalKTable) return this.joinGlobal(other, a, b, false, c);
    return this.joinTable(other as KTable<K, unknown>, a, false, b);
  }

  /**
   * Like join, but a record of this stream that finds no partner within the window is emitted
   * joined with null, once its window has closed (stream time past its timestamp + after +
   * grace), never before: no spurious null results. With a table (or global table): records
   * without a table value are joined with null.
   */
  leftJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V, otherValue: VO | null, key: K) => VR, windows: JoinWindows, options?: StreamJoined<K, V, VO>): KStream<K, VR>;
  leftJoin<VT, VR>(table: KTable<K, VT>, joiner: (value: V, tableValue: VT | null, key: K) => VR, named?: Named): KStream<K, VR>;
  leftJoin<GK, GV, VR>(globalTable: GlobalKTable<GK, GV>, keySelector: (key: K, value: V) => GK, joiner: (value: V, globalValue: GV | null, key: K) => VR, named?: Named): KStream<K, VR>;
  leftJoin(other: unknown, a: any, b?: any, c?: any): KStream<any, any> {
    if (other instanceof KStream) return this.joinStream(other, a, b, 'left', c);
    if (other instanceof GlobalKTable) return this.joinGlobal(other, a, b, true, c);
    return this.joinTable(other as KTable<K, unknown>, a, true, b);
  }

  /**
   * Like join, but records of either stream that find no partner within the window are emitted
   * joined with null (the missing side), once their window has closed.
   */
  outerJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V | null, otherValue: VO | null, key: K) => VR, windows: JoinWindows, options?: StreamJoined<K, V, VO>): KStream<K, VR> {
    if (!(other instanceof KStream)) throw new TopologyError('outerJoin: the other side must be a KStream (tables join with join/leftJoin)');
    return this.joinStream(other, joiner, windows, 'outer', options);
  }

  private joinStream<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V | null, otherValue: VO | null, key: K) => VR,
    windows: JoinWindows,
    kind: 'inner' | 'left' | 'outer',
    options?: StreamJoined<K, V, VO>,
  ): KStream<K, VR> {
    if (other.ctx !== this.ctx) throw new TopologyError('join: both streams must come from the same builder');
    if (typeof joiner !== 'function') throw new TopologyError('join: the joiner must be a function (value, otherValue, key) => result');
    if (!(windows instanceof JoinWindows)) throw new TopologyError('a stream-stream join needs JoinWindows: join(other, joiner, JoinWindows.ofTimeDifference(ms).grace(ms))');
    const named = options?.name;
    const base = named ?? this.ctx.nodeName('KSTREAM-JOIN');
    const where = `join at '${base}'`;
    const keySerde = this.ctx.requireSerde('key', options?.key, this.keySerde ?? other.keySerde, where) as Serde<K>;
    const thisValueSerde = this.ctx.requireSerde('value', options?.value, this.valueSerde, where) as Serde<V>;
    const otherValueSerde = this.ctx.requireSerde('value', options?.otherValue, other.valueSerde, where) as Serde<VO>;
    // Co-partitioning: a side whose key may have changed goes through a repartition topic.
    const left = this.repartitionRequired ? this.repartition({ name: `${base}-left`, key: keySerde, value: thisValueSerde }) : this;
    const right = other.repartitionRequired ? other.repartition({ name: `${base}-right`, key: keySerde, value: otherValueSerde }) : other;
    // Kafka Streams' names: the side that emits unmatched records is an OUTER one.
    const thisName = this.ctx.nodeName(kind === 'outer' ? 'KSTREAM-OUTERTHIS' : 'KSTREAM-JOINTHIS', named === undefined ? undefined : `${named}-this-join`);
    const otherName = this.ctx.nodeName(kind === 'inner' ? 'KSTREAM-JOINOTHER' : 'KSTREAM-OUTEROTHER', named === undefined ? undefined : `${named}-other-join`);
    const storePrefix = options?.store;
    const retentionMs = windows.beforeMs + windows.afterMs + windows.graceMs;
    const changelog = options?.logging === false ? ('none' as const) : ('internal' as const);
    const windowStore = (name: string, valueSerde: Serde<unknown>) =>
      this.ctx.declareStore({ name, kind: 'window', keySerde, valueSerde, backend: options?.backend, changelog, retentionMs, retainDuplicates: true });
    const thisStore = windowStore(storePrefix !== undefined ? `${storePrefix}-this-join-store` : `${thisName}-store`, thisValueSerde as Serde<unknown>);
    const otherStore = windowStore(storePrefix !== undefined ? `${storePrefix}-other-join-store` : `${otherName}-store`, otherValueSerde as Serde<unknown>);
    let outerStore: string | undefined;
    if (kind !== 'inner') {
      const bytes: Serde<Buffer> = { name: 'bytes', serialize: (v) => v, deserialize: (v) => v };
      outerStore = this.ctx.declareStore({
        name: storePrefix !== undefined ? `${storePrefix}-outer-shared-join-store` : `${this.ctx.nodeName('KSTREAM-OUTERSHARED')}-store`,
        kind: 'key-value',
        keySerde: bytes,
        valueSerde: bytes,
        backend: options?.backend,
        changelog,
      });
    }
    const spec: StreamStreamJoinSpec<K, V, VO, VR> = {
      leftStore: thisStore,
      rightStore: otherStore,
      outerStore,
      beforeMs: windows.beforeMs,
      afterMs: windows.afterMs,
      graceMs: windows.graceMs,
      leftOuter: kind !== 'inner',
      rightOuter: kind === 'outer',
      joiner,
      times: new JoinTimes(),
      keySerde,
      leftValueSerde: thisValueSerde,
      rightValueSerde: otherValueSerde,
    };
    const stores = outerStore === undefined ? [thisStore, otherStore] : [thisStore, otherStore, outerStore];
    this.ctx.topology.addProcessor({ name: thisName, parents: [left.nodeName], supplier: () => new StreamStreamJoinProcessor(spec, true), stores });
    this.ctx.topology.addProcessor({ name: otherName, parents: [right.nodeName], supplier: () => new StreamStreamJoinProcessor(spec, false), stores });
    const name = this.ctx.nodeName('KSTREAM-MERGE', named);
    this.ctx.topology.addProcessor({ name, parents: [thisName, otherName], supplier: () => new PassThroughProcessor(), stores: [] });
    this.ctx.topology.addCopartitionGroup([left.nodeName, right.nodeName]);
    return new KStream<K, VR>(this.ctx, name, keySerde, undefined, false);
  }

  private joinGlobal<GK, GV, VR>(table: GlobalKTable<GK, GV>, keySelector: (key: K, value: V) => GK, joiner: (value: V, globalValue: GV | null, key: K) => VR, left: boolean, named?: Named): KStream<K, VR> {
    if (table.ctx !== this.ctx) throw new TopologyError('join: the stream and the global table must come from the same builder');
    if (typeof keySelector !== 'function' || typeof joiner !== 'function') {
      throw new TopologyError('join with a global table: pass a key selector and a joiner, join(globalTable, (key, value) => tableKey, (value, tableValue, key) => result)');
    }
    const name = this.ctx.nodeName(left ? 'KSTREAM-LEFTJOIN' : 'KSTREAM-JOIN', named?.name);
    const store = table.queryableStoreName;
    // The global store is not connected like a task's own: every processor may read global stores.
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier: () => new StreamGlobalJoinProcessor<K, V, GK, GV, VR>(store, keySelector, joiner, left), stores: [] });
    return new KStream<K, VR>(this.ctx, name, this.keySerde, undefined, this.repartitionRequired);
  }

  private joinTable<VT, VR>(table: KTable<K, VT>, joiner: (value: V, tableValue: VT | null, key: K) => VR, left: boolean, named?: Named): KStream<K, VR> {
    if (table.ctx !== this.ctx) throw new TopologyError('join: the stream and the table must come from the same builder');
    if (table.queryableStoreName === undefined) throw new TopologyError('join: this table is not materialized (a suppressed table); join before suppress()');
    const source = this.repartitionRequired ? this.repartition({ name: this.ctx.nodeName('KSTREAM-JOIN-REPARTITION') }) : this;
    const name = this.ctx.nodeName(left ? 'KSTREAM-LEFTJOIN' : 'KSTREAM-JOIN', named?.name);
    const store = table.queryableStoreName;
    this.ctx.topology.addProcessor({ name, parents: [source.nodeName], supplier: () => new StreamTableJoinProcessor<K, V, VT, VR>(store, joiner, left), stores: [store] });
    this.ctx.topology.addCopartitionGroup([source.nodeName, table.nodeName]);
    return new KStream<K, VR>(this.ctx, name, this.keySerde, undefined, false);
  }

  /**
   * Writes the stream to a topic, or to a topic chosen per record. Serdes default to the
   * stream's known serdes, then the app's default serdes.
   */
  to(topic: string | TopicNameExtractor<K, V>, produced?: Produced<K, V>): void {
    const name = this.ctx.nodeName('KSTREAM-SINK', produced?.name);
    const where = typeof topic === 'string' ? `to('${topic}')` : `to(<topic extractor>) at '${name}'`;
    const keySerde = this.ctx.requireSerde('key', produced?.key, this.keySerde, where);
    const valueSerde = this.ctx.requireSerde('value', produced?.value, this.valueSerde, where);
    if (typeof topic !== 'string' && typeof topic !== 'function') throw new TopologyError(`to(): the topic must be a name or a function, got ${typeof topic}`);
    this.ctx.topology.addSink({ name, parents: [this.nodeName], topic, keySerde, valueSerde, partitioner: produced?.partitioner as StreamPartitioner | undefined });
  }

  /**
   * Keeps a read model (CQRS) in step with this stream's topic, exactly once: see
   * sqliteProjection() and postgresProjection(). The projection runs beside the tasks in its own
   * consumer group `<applicationId>-projection-<name>`, so the stream must be a topic: one read
   * with `b.stream(topic)`, or one written to a topic (the events of `b.eventSourced()`).
   * @example
   * b.stream('account-events', { value: serdes.json<AccountEvent>() }).project(balances);
   */
  project(projection: Projection<K, V>): void {
    if (!isProjection(projection)) throw new TopologyError('project() takes what sqliteProjection() or postgresProjection() returns');
    this.ctx.topology.addProjection(this.nodeName, projection);
  }

  /**
   * Sends the stream through an internal topic `<applicationId>-<name>-repartition`, so that
   * records are partitioned by their current key. Starts a new sub-topology.
   */
  repartition(options?: Repartitioned<K, V>): KStream<K, V> {
    const base = this.ctx.nodeName('KSTREAM-REPARTITION', options?.name);
    const topic = `${this.ctx.applicationId}-${base}-repartition`;
    const where = `repartition('${base}')`;
    const keySerde = this.ctx.requireSerde('key', options?.key, this.keySerde, where);
    const valueSerde = this.ctx.requireSerde('value', options?.value, this.valueSerde, where);
    this.ctx.topology.addInternalTopic({ name: topic, kind: 'repartition', partitions: options?.partitions });
    this.ctx.topology.addSink({ name: `${base}-sink`, parents: [this.nodeName], topic, keySerde, valueSerde });
    const sourceName = `${base}-source`;
    this.ctx.topology.addSource({ name: sourceName, topics: [topic], keySerde, valueSerde });
    return new KStream<K, V>(this.ctx, sourceName, keySerde, valueSerde, false);
  }

  private chain<KR, VR>(
    prefix: string,
    named: Named | undefined,
    supplier: ProcessorSupplier<any, any, any, any>,
    keySerde: Serde<KR> | undefined,
    valueSerde: Serde<VR> | undefined,
    repartitionRequired: boolean,
  ): KStream<KR, VR> {
    const name = this.ctx.nodeName(prefix, named?.name);
    this.ctx.topology.addProcessor({ name, parents: [this.nodeName], supplier, stores: [] });
    return new KStream<KR, VR>(this.ctx, name, keySerde, valueSerde, repartitionRequired);
  }
}
