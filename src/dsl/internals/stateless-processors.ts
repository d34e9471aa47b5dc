import type { Processor, ProcessorContext, StreamRecord } from '../../processor/types.js';

/**
 * The record-at-a-time operators of KStream. Each is a small Processor; they run synchronously
 * and keep the record's timestamp and headers unless the operation changes them.
 */

abstract class ForwardingProcessor<K, V, KO, VO> implements Processor<K, V, KO, VO> {
  protected ctx!: ProcessorContext<KO, VO>;
  init(context: ProcessorContext<KO, VO>): void {
    this.ctx = context;
  }
  abstract process(record: StreamRecord<K, V>): void;
}

export class FilterProcessor<K, V> extends ForwardingProcessor<K, V, K, V> {
  constructor(private readonly predicate: (key: K, value: V) => boolean, private readonly keep: boolean) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    if (this.predicate(record.key, record.value) === this.keep) this.ctx.forward(record);
  }
}

export class MapProcessor<K, V, KO, VO> extends ForwardingProcessor<K, V, KO, VO> {
  constructor(private readonly mapper: (key: K, value: V) => readonly [KO, VO]) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    const pair = this.mapper(record.key, record.value);
    this.ctx.forward({ key: pair[0], value: pair[1], timestamp: record.timestamp, headers: record.headers });
  }
}

export class MapValuesProcessor<K, V, VO> extends ForwardingProcessor<K, V, K, VO> {
  constructor(private readonly mapper: (value: V, key: K) => VO) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    this.ctx.forward({ key: record.key, value: this.mapper(record.value, record.key), timestamp: record.timestamp, headers: record.headers });
  }
}

export class FlatMapProcessor<K, V, KO, VO> extends ForwardingProcessor<K, V, KO, VO> {
  constructor(private readonly mapper: (key: K, value: V) => Iterable<readonly [KO, VO]>) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    for (const pair of this.mapper(record.key, record.value)) {
      this.ctx.forward({ key: pair[0], value: pair[1], timestamp: record.timestamp, headers: record.headers });
    }
  }
}

export class FlatMapValuesProcessor<K, V, VO> extends ForwardingProcessor<K, V, K, VO> {
  constructor(private readonly mapper: (value: V, key: K) => Iterable<VO>) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    for (const value of this.mapper(record.value, record.key)) {
      this.ctx.forward({ key: record.key, value, timestamp: record.timestamp, headers: record.headers });
    }
  }
}

export class SelectKeyProcessor<K, V, KO> extends ForwardingProcessor<K, V, KO, V> {
  constructor(private readonly selector: (key: K, value: V) => KO) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    this.ctx.forward({ key: this.selector(record.key, record.value), value: record.value, timestamp: record.timestamp, headers: record.headers });
  }
}

/** peek forwards the record after the action; foreach (forward = false) ends the stream. */
export class PeekProcessor<K, V> extends ForwardingProcessor<K, V, K, V> {
  constructor(private readonly action: (key: K, value: V) => void, private readonly forwards: boolean) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    this.action(record.key, record.value);
    if (this.forwards) this.ctx.forward(record);
  }
}

/** Passes records through unchanged: merge points and the children of a split. */
export class PassThroughProcessor<K, V> extends ForwardingProcessor<K, V, K, V> {
  process(record: StreamRecord<K, V>): void {
    this.ctx.forward(record);
  }
}

/** Sends each record to the first branch whose predicate holds, or the default branch. */
export class BranchProcessor<K, V> extends ForwardingProcessor<K, V, K, V> {
  constructor(
    private readonly predicates: ReadonlyArray<(key: K, value: V) => boolean>,
    private readonly childNames: readonly string[],
    private readonly defaultChild: string | undefined,
  ) {
    super();
  }
  process(record: StreamRecord<K, V>): void {
    for (let i = 0; i < this.predicates.length; i++) {
      if (this.predicates[i]!(record.key, record.value)) {
        this.ctx.forward(record, this.childNames[i]);
        return;
      }
    }
    if (this.defaultChild !== undefined) this.ctx.forward(record, this.defaultChild);
  }
}
