import { TopologyError } from '../errors/index.js';
import { buildEventSourced, checkEventSourcedSpec, type EventSourcedSpec } from '../eventsourcing/event-sourced.js';
import type { Serde } from '../serde/serde.js';
import type { TimestampExtractor } from '../topology/nodes.js';
import type { GlobalStoreDefinition } from '../runtime/global-state.js';
import { GlobalKTable } from './global-ktable.js';
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
  /** Topics read by stream()/table() and by globalTable(): a topic is read one way only. */
  private readonly streamTopics = new Set<string>();
  private readonly globalTopics = new Set<string>();

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

  /**
   * A table of every partition of a topic, held whole by each instance (Kafka Streams'
   * GlobalKTable): read to its end before tasks start and kept up to date while they run. Join
   * streams with it by a key computed from each record, with no co-partitioning. The topic is
   * the store's changelog; nothing extra is written.
   */
  globalTable<K = string, V = unknown>(topic: string, consumed?: Consumed<K, V> & Materialized<K, V>): GlobalKTable<K, V> {
    if (typeof topic !== 'string' || !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) throw new TopologyError(`globalTable(): ${JSON.stringify(topic)} is not a valid topic name`);
    if (this.streamTopics.has(topic)) throw new TopologyError(`topic '${topic}' is already read by stream() or table(); a global table needs a topic of its own`);
    if (this.globalTopics.has(topic)) throw new TopologyError(`topic '${topic}' is already read by globalTable(): read a topic once and reuse the table`);
    const where = `globalTable('${topic}')`;
    const keySerde = this.ctx.requireSerde('key', consumed?.key, undefined, where) as Serde<K>;
    const valueSerde = this.ctx.requireSerde('value', consumed?.value, undefined, where) as Serde<V>;
    const def: GlobalStoreDefinition = {
      name: consumed?.store ?? `${topic}-STATE-STORE`,
      kind: 'key-value',
      keySerde,
      valueSerde,
      backend: consumed?.backend,
      changelog: { sourceTopic: topic },
      global: true,
    };
    const store = this.ctx.declareStore(def);
    this.globalTopics.add(topic);
    return new GlobalKTable<K, V>(this.ctx, topic, keySerde, valueSerde, store);
  }

  /**
   * An event-sourced aggregate: commands (keyed by aggregate id) are decided one at a time
   * against the aggregate's state; accepted ones append events to the events topic (same key,
   * same partition), refused ones go to the rejections topic. The state lives in the store
   * `name` (or `spec.store`), whose changelog is the events topic itself. Returns the events.
   * @example
   * b.eventSourced('accounts', { commands: 'account-commands', events: 'account-events', rejections: 'account-rejections', decider });
   */
  eventSourced<K = string, C = unknown, E = unknown, S = unknown, R extends string = string>(name: string, spec: EventSourcedSpec<K, C, E, S, R>): KStream<K, E> {
    checkEventSourcedSpec(name, spec);
    const commands = this.stream<K, C>(spec.commands, { name: `${name}-commands`, key: spec.serdes?.key, value: spec.serdes?.command });
    return buildEventSourced(this.ctx, name, commands, spec);
  }

  /** A stream of the records of one topic, or of several topics interleaved. */
  stream<K = string, V = unknown>(topics: string | string[], consumed?: Consumed<K, V>): KStream<K, V> {
    const list = typeof topics === 'string' ? [topics] : topics;
    if (!Array.isArray(list) || list.some((t) => typeof t !== 'string')) throw new TopologyError('stream() takes a topic name or an array of topic names');
    const global = list.find((t) => this.globalTopics.has(t));
    if (global !== undefined) throw new TopologyError(`topic '${global}' is already read by globalTable(); read a topic one way only`);
    const name = this.ctx.nodeName('KSTREAM-SOURCE', consumed?.name);
    const where = `stream('${list.join("', '")}')`;
    const keySerde = this.ctx.requireSerde('key', consumed?.key, undefined, where);
    const valueSerde = this.ctx.requireSerde('value', consumed?.value, undefined, where);
    this.ctx.topology.addSource({ name, topics: list, keySerde, valueSerde, timestampExtractor: consumed?.timestampExtractor });
    for (const t of list) this.streamTopics.add(t);
    return new KStream<K, V>(this.ctx, name, keySerde, valueSerde, false);
  }
}
