import type { InternalProcessorContext } from '../../processor/processor-node.js';
import type { Processor, StreamRecord } from '../../processor/types.js';
import type { ReadOnlyKeyValueStore } from '../../state/store-types.js';

/**
 * KStream-GlobalKTable join (Kafka Streams' KStreamGlobalKTableJoin): each stream record picks
 * the global table key to look up with `keySelector(key, value)`; the global store holds every
 * partition of the table's topic, so the stream needs no repartitioning. The result keeps the
 * stream record's key and timestamp. Records with a null value are dropped; a null lookup key
 * finds nothing (inner: dropped; left: joined with null).
 */
export class StreamGlobalJoinProcessor<K, V, GK, GV, VR> implements Processor<K, V, K, VR> {
  private ctx!: InternalProcessorContext<K, VR>;
  private store!: ReadOnlyKeyValueStore<GK, GV>;

  constructor(
    private readonly storeName: string,
    private readonly keySelector: (key: K, value: V) => GK,
    private readonly joiner: (value: V, globalValue: GV | null, key: K) => VR,
    private readonly left: boolean,
  ) {}

  init(context: InternalProcessorContext<K, VR>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(r: StreamRecord<K, V>): void {
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-key-or-value');
    const globalKey = this.keySelector(r.key, r.value);
    const found = globalKey === null || globalKey === undefined ? undefined : this.store.get(globalKey);
    if (found === undefined && !this.left) {
      if (globalKey === null || globalKey === undefined) this.ctx.recordDropped('null-key-or-value');
      return;
    }
    this.ctx.forward({ key: r.key, value: this.joiner(r.value, found ?? null, r.key), timestamp: r.timestamp, headers: r.headers });
  }
}
