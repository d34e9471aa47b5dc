import { TopologyError } from '../errors/index.js';
import type { Serde } from '../serde/serde.js';
import type { TimestampExtractor } from '../topology/nodes.js';
import type { BuilderContext } from './internals/builder-context.js';
import { KStream, type Named } from './kstream.js';

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
