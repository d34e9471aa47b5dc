import { TopologyError } from '../errors/index.js';
import type { Serde } from '../serde/serde.js';
import type { TimestampExtractor } from '../topology/nodes.js';
import type { BuilderContext } from './internals/builder-context.js';
import { TableSourceProcessor } from './internals/stateful-processors.js';
import { KStream, type Named } from './kstream.js';
import type { KTable } from './ktable.js';
import type { Materialized } from './materialized.js';

export interface Consumed<K, V> extends Named {
  key?: Serde<K>;
  value?: Serde<V>;
  /** Event time of each record; default: the timestamp stored with it. */
  timestampExtractor?: TimestampExtractor;
}

/**
 * Where a topology starts: `app('id', (b) => { b.stream('in', ...)... })` hands you one.
 */
export class StreamsBuilder {
  /** @internal */
  constructor(private readonly ctx: BuilderContext) {}

  get applicationId(): string {
    return this.ctx.applicationId;
  }

  /**
   * A table of a topic: the latest value per key (null values delete). The topic itself serves
   * as the store's changelog, so nothing extra is written.
   */
  table<K = string, V = unknown>(topic: string, consumed?: Consumed<K, V> & Materialized<K, V>): KTable<K, V> {
    const source = this.stream<K, V>(topic, consumed);
    const name = this.ctx.nodeName('KTABLE-SOURCE', consumed?.name === undefined ? undefined : `${consumed.name}-table`);
    const store = this.ctx.declareStore({
      name: consumed?.store ?? `${topic}-STATE-STORE`,
      kind: 'key-value',
      keySerde: source.keySerde!,
      valueSerde: source.valueSerde!,
      backend: consumed?.backend,
      changelog: consumed?.logging === false ? 'none' : { sourceTopic: topic },
    });
    this.ctx.topology.addProcessor({ name, parents: [source.nodeName], supplier: () => new TableSourceProcessor(store), stores: [store] });
    return this.ctx.factories.table<K, V>(this.ctx, name, source.keySerde, source.valueSerde, store);
  }

  /** A stream of the records of one topic, or of several topics interleaved. */
  stream<K = string, V = unknown>(topics: string | string[], consumed?: Consumed<K, V>): KStream<K, V> {
    const list = typeof topics === 'string' ? [topics] : topics;
    if (!Array.isArray(list) || list.some((t) => typeof t !== 'string')) throw new TopologyError('stream() takes a topic name or an array of topic names');
    const name = this.ctx.nodeName('KSTREAM-SOURCE', consumed?.name);
    const where = `stream('${list.join("', '")}')`;
    const keySerde = this.ctx.requireSerde('key', consumed?.key, undefined, where);
    const valueSerde = this.ctx.requireSerde('value', consumed?.value, undefined, where);
    this.ctx.topology.addSource({ name, topics: list, keySerde, valueSerde, timestampExtractor: consumed?.timestampExtractor });
    return new KStream<K, V>(this.ctx, name, keySerde, valueSerde, false);
  }
}
