import type { InternalProcessorContext } from '../../processor/processor-node.js';
import type { Processor, StreamRecord } from '../../processor/types.js';
import type { KeyValueStore } from '../../state/store-types.js';
import { change, type Change } from './change.js';

/**
 * KTable-KTable joins (Kafka Streams' KTableKTableInnerJoin / LeftJoin / RightJoin / OuterJoin
 * and KTableKTableJoinMerger). Each side has a processor: on a change of its side it reads the
 * other side's current value from that table's store and computes the result for the new and
 * for the old value of its side. The merger materializes the result in its own store and
 * forwards Change(new result, previous result); a key whose result disappears (a tombstone on
 * either side of an inner join, on the left of a left join, on both sides of an outer join)
 * gets a null new value: the result is retracted.
 */

export type TableJoinKind = 'inner' | 'left' | 'outer';

export class TableTableJoinProcessor<K, VL, VR, VOut> implements Processor<K, Change<unknown>, K, Change<VOut>> {
  private ctx!: InternalProcessorContext<K, Change<VOut>>;
  private other!: KeyValueStore<K, unknown>;

  constructor(
    private readonly otherStore: string,
    private readonly kind: TableJoinKind,
    private readonly isLeft: boolean,
    /** From the left's point of view; null stands for "no value". */
    private readonly joiner: (left: VL | null, right: VR | null, key: K) => VOut,
  ) {}

  init(context: InternalProcessorContext<K, Change<VOut>>): void {
    this.ctx = context;
    this.other = context.getStateStore(this.otherStore);
  }

  process(r: StreamRecord<K, Change<unknown>>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    const other = this.other.get(r.key) ?? null;
    const next = this.result(r.key, r.value.newValue, other);
    const old = this.result(r.key, r.value.oldValue, other);
    if (next === null && old === null) return;
    this.ctx.forward({ key: r.key, value: change(next, old), timestamp: r.timestamp, headers: r.headers });
  }

  /** The join result for this side's value `mine` and the other side's `other`, or null for none. */
  private result(key: K, mine: unknown, other: unknown): VOut | null {
    const left = (this.isLeft ? mine : other) as VL | null;
    const right = (this.isLeft ? other : mine) as VR | null;
    const exists = this.kind === 'inner' ? left !== null && right !== null : this.kind === 'left' ? left !== null : left !== null || right !== null;
    return exists ? this.joiner(left, right, key) : null;
  }
}

/** Materializes a table-table join's result; forwards Change(new, previous) as stored. */
export class TableJoinMergeProcessor<K, V> implements Processor<K, Change<V>, K, Change<V>> {
  private ctx!: InternalProcessorContext<K, Change<V>>;
  private store!: KeyValueStore<K, V>;

  constructor(private readonly storeName: string) {}

  init(context: InternalProcessorContext<K, Change<V>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(r: StreamRecord<K, Change<V>>): void {
    const previous = this.store.get(r.key) ?? null;
    const next = r.value.newValue;
    if (next === null && previous === null) return;
    this.store.put(r.key, next);
    this.ctx.forward({ key: r.key, value: change(next, previous), timestamp: r.timestamp, headers: r.headers });
  }
}
