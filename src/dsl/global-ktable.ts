import type { Serde } from '../serde/serde.js';
import type { BuilderContext } from './internals/builder-context.js';

/**
 * A table of every partition of a topic, copied whole into each instance (Kafka Streams'
 * GlobalKTable): made by `b.globalTable(topic)`, joined with `stream.join(globalTable,
 * (key, value) => tableKey, joiner)` with no co-partitioning needed. It is filled before any
 * task starts and kept up to date while the application runs; its store (named
 * `queryableStoreName`) is read-only for processors.
 *
 * @example
 * const products = b.globalTable('products', { value: serdes.json<Product>() });
 * b.stream('orders', { value: serdes.json<Order>() })
 *   .join(products, (_, o) => o.productId, (o, p) => ({ ...o, product: p.name }))
 *   .to('orders-with-products');
 */
export class GlobalKTable<K, V> {
  /** @internal */
  constructor(
    /** @internal */ readonly ctx: BuilderContext,
    /** The topic the table copies. */
    readonly topic: string,
    /** @internal */ readonly keySerde: Serde<K>,
    /** @internal */ readonly valueSerde: Serde<V>,
    /** The store holding the table. */
    readonly queryableStoreName: string,
  ) {}

  /** @internal Makes the class nominal: a KTable is not a GlobalKTable. */
  private readonly kind = 'global-table';
}
