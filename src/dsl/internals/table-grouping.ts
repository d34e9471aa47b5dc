import { SerdeError } from '../../errors/index.js';
import type { InternalProcessorContext } from '../../processor/processor-node.js';
import type { Processor, StreamRecord } from '../../processor/types.js';
import type { Serde } from '../../serde/serde.js';
import type { KeyValueStore } from '../../state/store-types.js';
import { change, type Change } from './change.js';

/**
 * KTable.groupBy and the aggregations of a grouped table (Kafka Streams' KTableRepartitionMap,
 * KTableAggregate, KTableReduce). An update of the table may move a row from one group to
 * another, so what goes through the repartition topic is a Change: the old value, to subtract
 * from its group, and the new value, to add to its group.
 */

const HAS_NEW = 1;
const HAS_OLD = 2;

/**
 * Change<V> on a topic: a flag byte (1: new value present, 2: old value present), then, when
 * both are there, the new value's length (4 bytes), the new value and the old value; else the
 * one value.
 */
export function changeSerde<V>(inner: Serde<V>): Serde<Change<V>> {
  return {
    name: `change(${inner.name})`,
    serialize(value, topic, headers) {
      const n = value.newValue === null ? null : inner.serialize(value.newValue, topic, headers);
      const o = value.oldValue === null ? null : inner.serialize(value.oldValue, topic, headers);
      const flag = (n === null ? 0 : HAS_NEW) | (o === null ? 0 : HAS_OLD);
      if (n !== null && o !== null) {
        const head = Buffer.allocUnsafe(5);
        head.writeUInt8(flag, 0);
        head.writeUInt32BE(n.length, 1);
        return Buffer.concat([head, n, o]);
      }
      return Buffer.concat([Buffer.from([flag]), n ?? o ?? Buffer.alloc(0)]);
    },
    deserialize(bytes, topic, headers) {
      if (bytes.length < 1) throw new SerdeError(`change serde: empty record on topic '${topic}'`);
      const flag = bytes.readUInt8(0);
      if ((flag & ~(HAS_NEW | HAS_OLD)) !== 0) throw new SerdeError(`change serde: bad flag ${flag} on topic '${topic}'`);
      if (flag === (HAS_NEW | HAS_OLD)) {
        const length = bytes.readUInt32BE(1);
        return { newValue: inner.deserialize(bytes.subarray(5, 5 + length), topic, headers), oldValue: inner.deserialize(bytes.subarray(5 + length), topic, headers) };
      }
      const one = flag === 0 ? null : inner.deserialize(bytes.subarray(1), topic, headers);
      return { newValue: flag === HAS_NEW ? one : null, oldValue: flag === HAS_OLD ? one : null };
    },
  };
}

/**
 * groupBy's selector over a table's changes: the old row leaves its group (Change(null, old)),
 * the new row joins its group (Change(new, null)), old first; when both map to the same group
 * they travel as one Change(new, old), so the group is updated once. A row whose selector gives
 * a null key or value takes part in no group.
 */
export class TableGroupByProcessor<K, V, KR, VR> implements Processor<K, Change<V>, KR, Change<VR>> {
  private ctx!: InternalProcessorContext<KR, Change<VR>>;

  constructor(
    private readonly selector: (key: K, value: V) => readonly [KR, VR],
    private readonly keySerde: Serde<KR>,
    /** The repartition topic, known once an aggregation is added (keys are compared as its serde writes them). */
    private readonly topic: { name: string },
  ) {}

  init(context: InternalProcessorContext<KR, Change<VR>>): void {
    this.ctx = context;
  }

  process(r: StreamRecord<K, Change<V>>): void {
    const oldPair = r.value.oldValue === null ? null : this.select(r.key, r.value.oldValue);
    const newPair = r.value.newValue === null ? null : this.select(r.key, r.value.newValue);
    if (oldPair !== null && newPair !== null && this.sameKey(oldPair[0], newPair[0])) {
      this.ctx.forward({ key: newPair[0], value: change(newPair[1], oldPair[1]), timestamp: r.timestamp, headers: r.headers });
      return;
    }
    if (oldPair !== null) this.ctx.forward({ key: oldPair[0], value: change<VR>(null, oldPair[1]), timestamp: r.timestamp, headers: r.headers });
    if (newPair !== null) this.ctx.forward({ key: newPair[0], value: change<VR>(newPair[1], null), timestamp: r.timestamp, headers: r.headers });
  }

  private select(key: K, value: V): readonly [KR, VR] | null {
    const pair = this.selector(key, value);
    if (pair === null || pair === undefined || pair[0] === null || pair[0] === undefined || pair[1] === null || pair[1] === undefined) return null;
    return pair;
  }

  /** Group keys compare by their bytes, as the repartition topic sees them. */
  private sameKey(a: KR, b: KR): boolean {
    return a === b || this.keySerde.serialize(a, this.topic.name).equals(this.keySerde.serialize(b, this.topic.name));
  }
}

/** KGroupedTable.aggregate / count: subtract the old value from its group, then add the new one. */
export class TableAggregateProcessor<K, V, VA> implements Processor<K, Change<V>, K, Change<VA>> {
  private ctx!: InternalProcessorContext<K, Change<VA>>;
  private store!: KeyValueStore<K, VA>;

  constructor(
    private readonly storeName: string,
    private readonly initializer: () => VA,
    private readonly adder: (key: K, value: V, aggregate: VA) => VA,
    private readonly subtractor: (key: K, value: V, aggregate: VA) => VA,
  ) {}

  init(context: InternalProcessorContext<K, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(r: StreamRecord<K, Change<V>>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    const old = this.store.get(r.key) ?? null;
    let agg: VA | null = old;
    if (r.value.oldValue !== null && agg !== null) agg = this.subtractor(r.key, r.value.oldValue, agg) ?? null;
    if (r.value.newValue !== null) agg = this.adder(r.key, r.value.newValue, agg ?? this.initializer());
    if (agg === null && old === null) return;
    this.store.put(r.key, agg);
    this.ctx.forward({ key: r.key, value: change(agg, old), timestamp: r.timestamp, headers: r.headers });
  }
}

/** KGroupedTable.reduce: like aggregate, where a group's first value is its start. */
export class TableReduceProcessor<K, V> implements Processor<K, Change<V>, K, Change<V>> {
  private ctx!: InternalProcessorContext<K, Change<V>>;
  private store!: KeyValueStore<K, V>;

  constructor(
    private readonly storeName: string,
    private readonly adder: (aggregate: V, value: V) => V,
    private readonly subtractor: (aggregate: V, value: V) => V,
  ) {}

  init(context: InternalProcessorContext<K, Change<V>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(r: StreamRecord<K, Change<V>>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    const old = this.store.get(r.key) ?? null;
    let agg: V | null = old;
    if (r.value.oldValue !== null && agg !== null) agg = this.subtractor(agg, r.value.oldValue) ?? null;
    if (r.value.newValue !== null) agg = agg === null ? r.value.newValue : this.adder(agg, r.value.newValue);
    if (agg === null && old === null) return;
    this.store.put(r.key, agg);
    this.ctx.forward({ key: r.key, value: change(agg, old), timestamp: r.timestamp, headers: r.headers });
  }
}
