import { serdes } from '../serde/builtin.js';
import type { Serde } from '../serde/serde.js';
import type { BuilderContext } from './internals/builder-context.js';
import { changeSerde, TableAggregateProcessor, TableReduceProcessor } from './internals/table-grouping.js';
import type { Named } from './kstream.js';
import type { KTable } from './ktable.js';
import type { Materialized } from './materialized.js';

/**
 * A table re-grouped by `KTable.groupBy((key, value) => [groupKey, groupValue])`, ready to
 * aggregate (Kafka Streams' KGroupedTable). Every update of the table moves a row between
 * groups: its old value is subtracted from the old group and its new value added to the new
 * one, so aggregations need both an adder and a subtractor. Rows travel through a repartition
 * topic `<applicationId>-<name>-repartition` carrying old and new value together.
 */
export class KGroupedTable<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuilderContext,
    /** The groupBy node, whose output goes to the repartition topic. */
    private readonly nodeName: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    /** Grouped's name: names the repartition topic. */
    private readonly repartitionName: string | undefined,
    /** Told the repartition topic's name, for the groupBy node's serde calls. */
    private readonly topicRef: { name: string },
  ) {}

  /** The number of rows per group: +1 for a row that joins it, -1 for a row that leaves it. */
  count(options?: Named & Materialized<K, number>): KTable<K, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, (_k, _v, n) => n - 1, {
      value: serdes.json<number>(),
      ...options,
      name: options?.name ?? this.ctx.nodeName('KTABLE-COUNT'),
    });
  }

  /**
   * Combines the values of each group: `adder(aggregate, value)` for a row that joins it,
   * `subtractor(aggregate, value)` for a row that leaves it; a group's first value is its start.
   * @example prices.groupBy((_, p) => [p.category, p.amount], { value: serdes.float64() }).reduce((a, v) => a + v, (a, v) => a - v)
   */
  reduce(adder: (aggregate: V, value: V) => V, subtractor: (aggregate: V, value: V) => V, options?: Named & Materialized<K, V>): KTable<K, V> {
    const name = options?.name ?? this.ctx.nodeName('KTABLE-REDUCE');
    const store = this.store(name, options, options?.value ?? this.valueSerde);
    const source = this.repartition(store);
    this.ctx.topology.addProcessor({ name, parents: [source], supplier: () => new TableReduceProcessor<K, V>(store, adder, subtractor), stores: [store] });
    return this.ctx.factories.table<K, V>(this.ctx, name, this.keySerde, options?.value ?? this.valueSerde, store);
  }

  /**
   * Folds each group's rows into an aggregate, starting from `initializer()`: `adder` for a row
   * that joins the group, `subtractor` for one that leaves it (an update is both, old first).
   * @example
   * users.groupBy((_, u) => [u.region, u]).aggregate(() => 0, (_k, u, n) => n + u.score, (_k, u, n) => n - u.score, { value: serdes.json<number>() })
   */
  aggregate<VA>(
    initializer: () => VA,
    adder: (key: K, value: V, aggregate: VA) => VA,
    subtractor: (key: K, value: V, aggregate: VA) => VA,
    options?: Named & Materialized<K, VA>,
  ): KTable<K, VA> {
    const name = options?.name ?? this.ctx.nodeName('KTABLE-AGGREGATE');
    const store = this.store(name, options, options?.value);
    const source = this.repartition(store);
    this.ctx.topology.addProcessor({ name, parents: [source], supplier: () => new TableAggregateProcessor<K, V, VA>(store, initializer, adder, subtractor), stores: [store] });
    return this.ctx.factories.table<K, VA>(this.ctx, name, this.keySerde, options?.value ?? (this.ctx.config.defaultValueSerde as Serde<VA> | undefined), store);
  }

  /** The repartition topic (named after Grouped's name, else the store, as in Kafka Streams); returns its source node. */
  private repartition(store: string): string {
    const base = this.repartitionName ?? store;
    const topic = `${this.ctx.applicationId}-${base}-repartition`;
    this.topicRef.name = topic;
    const serde = changeSerde(this.valueSerde);
    this.ctx.topology.addInternalTopic({ name: topic, kind: 'repartition' });
    this.ctx.topology.addSink({ name: `${base}-sink`, parents: [this.nodeName], topic, keySerde: this.keySerde, valueSerde: serde });
    this.ctx.topology.addSource({ name: `${base}-source`, topics: [topic], keySerde: this.keySerde, valueSerde: serde });
    return `${base}-source`;
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
