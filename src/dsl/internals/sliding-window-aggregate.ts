import type { Headers } from '../../log/types.js';
import type { InternalProcessorContext } from '../../processor/processor-node.js';
import type { Processor, StreamRecord } from '../../processor/types.js';
import type { Serde } from '../../serde/serde.js';
import type { Windowed, WindowStore } from '../../state/store-types.js';
import type { SlidingWindows } from '../windows.js';
import { change, type Change } from './change.js';

/**
 * The value serde of a sliding-window store: each aggregate is stored with the largest record
 * timestamp of its window (8 bytes before the value's own bytes), as Kafka Streams keeps a
 * ValueAndTimestamp. Readers of the store (interactive queries, `t.store()`) see plain
 * aggregates; the sliding-window processor passes the timestamp alongside: it sets
 * `nextTimestamp` right before each `put`, and reads `lastTimestamp` right after each value it
 * reads. Stores are used synchronously, one record at a time, so nothing else runs in between.
 */
export class MaxTimestampSerde<V> implements Serde<V> {
  readonly name: string;
  /** The timestamp stored with the next value serialized. */
  nextTimestamp = 0;
  /** The timestamp stored with the last value deserialized. */
  lastTimestamp = 0;

  constructor(private readonly inner: Serde<V>) {
    this.name = `max-timestamp(${inner.name})`;
  }

  serialize(value: V, topic: string, headers?: Headers): Buffer {
    const bytes = this.inner.serialize(value, topic, headers);
    const out = Buffer.allocUnsafe(8 + bytes.length);
    out.writeDoubleBE(this.nextTimestamp, 0);
    bytes.copy(out, 8);
    return out;
  }

  deserialize(bytes: Buffer, topic: string, headers?: Headers): V {
    this.lastTimestamp = bytes.readDoubleBE(0);
    return this.inner.deserialize(bytes.subarray(8), topic, headers);
  }
}

/** A window's aggregate as the processor sees it: its start, value and largest record timestamp. */
interface SlidingAggregate<VA> {
  start: number;
  value: VA;
  maxTimestamp: number;
  /** False for a window being created (its value is the initializer's, or a copied aggregate). */
  existed: boolean;
}

/**
 * windowedBy(SlidingWindows).aggregate / count / reduce, as Kafka Streams'
 * KStreamSlidingWindowAggregate: windows are [start, start + timeDifference], both ends
 * inclusive, and exist only where records make them: each record's window ending at its
 * timestamp (records earlier than the time difference share [0, timeDifference]), and the
 * window starting 1 ms after a record when later records fall in it. A window is closed when
 * its end < stream time - grace; a record too late for every window it falls in is dropped and
 * counted. Windows are visited newest first (Kafka Streams' reverse-iterator path), so the
 * order of the updates emitted for one record is Kafka Streams' too.
 */
export class SlidingWindowAggregateProcessor<K, V, VA> implements Processor<K, V, Windowed<K>, Change<VA>> {
  private ctx!: InternalProcessorContext<Windowed<K>, Change<VA>>;
  private store!: WindowStore<K, VA>;
  private observed = -Infinity;
  /** Windows the current record was added to (0: it was late for all of them). */
  private applied = 0;
  private readonly diff: number;

  constructor(
    private readonly storeName: string,
    private readonly windows: SlidingWindows,
    private readonly initializer: () => VA,
    private readonly aggregator: (key: K, value: V, aggregate: VA) => VA,
    private readonly stored: MaxTimestampSerde<VA>,
  ) {
    this.diff = windows.timeDifferenceMs;
  }

  init(context: InternalProcessorContext<Windowed<K>, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore<WindowStore<K, VA>>(this.storeName);
  }

  process(r: StreamRecord<K, V>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-value');
    if (r.timestamp < 0) return this.ctx.recordDropped('negative-timestamp');
    if (r.timestamp > this.observed) this.observed = r.timestamp;
    const closeTime = this.observed - this.windows.graceMs;
    // No window holding the record ends after ts + diff: when that end has closed, all have.
    if (r.timestamp + this.diff < closeTime) return this.ctx.recordDropped('late-record');
    this.applied = 0;
    if (r.timestamp < this.diff) this.processEarly(r, closeTime);
    else this.processWindows(r, closeTime);
    if (this.applied === 0) this.ctx.recordDropped('late-record');
  }

  /** A record at ts >= timeDifference: update the windows it falls in, then create the missing ones. */
  private processWindows(r: StreamRecord<K, V>, closeTime: number): void {
    const ts = r.timestamp;
    const found = this.fetch(r.key, Math.max(0, ts - 2 * this.diff), ts + 1);
    const starts = new Set<number>();
    for (const w of found) starts.add(w.start);
    let leftWinAgg: SlidingAggregate<VA> | undefined;
    let rightWinAgg: SlidingAggregate<VA> | undefined;
    let leftWinExists = false;
    let rightWinExists = false;
    let previousTimestamp: number | undefined;
    for (let i = found.length - 1; i >= 0; i--) {
      const w = found[i]!;
      const end = w.start + this.diff;
      if (w.start === ts + 1) {
        rightWinExists = true;
      } else if (end > ts) {
        // A window the record falls in (start <= ts < end); the newest of them holds what the
        // record's own right window will start from.
        rightWinAgg ??= w;
        this.update(r, w, closeTime);
      } else if (end === ts) {
        leftWinExists = true;
        this.update(r, w, closeTime);
        if (w.maxTimestamp < ts) previousTimestamp = w.maxTimestamp;
        else return; // a record at ts came before: its windows all exist already
      } else {
        // The newest window ending before ts: it holds the latest record before this one.
        leftWinAgg = w;
        previousTimestamp = w.maxTimestamp;
        break;
      }
    }
    if (previousTimestamp !== undefined) {
      // The previous record's right window, if this record is the first to fall in it.
      const start = previousTimestamp + 1;
      if (!starts.has(start) && start + this.diff >= ts) this.update(r, this.fresh(start, ts), closeTime);
    }
    if (!leftWinExists) {
      const leftNotEmpty = previousTimestamp !== undefined && leftWinAgg !== undefined && ts - this.diff <= previousTimestamp;
      const base = leftNotEmpty ? { start: ts - this.diff, value: leftWinAgg!.value, maxTimestamp: ts, existed: false } : this.fresh(ts - this.diff, ts);
      this.update(r, base, closeTime);
    }
    if (!rightWinExists && rightWinAgg !== undefined && rightWinAgg.maxTimestamp > ts) this.createRightWindow(r, rightWinAgg);
  }

  /**
   * A record at ts < timeDifference: its left window would start before 0, so it goes into
   * [0, timeDifference] instead, which holds every early record (as Kafka Streams does).
   */
  private processEarly(r: StreamRecord<K, V>, closeTime: number): void {
    const ts = r.timestamp;
    const found = this.fetch(r.key, 0, ts + 1);
    let combined: SlidingAggregate<VA> | undefined;
    let rightWinAgg: SlidingAggregate<VA> | undefined;
    let rightWinExists = false;
    let previousTimestamp: number | undefined;
    const starts = new Set<number>();
    for (const w of found) {
      starts.add(w.start);
      if (w.start === 0) {
        combined = w;
        if (w.maxTimestamp < ts) previousTimestamp = w.maxTimestamp;
      } else if (w.start <= ts) {
        rightWinAgg = w;
        this.update(r, w, closeTime);
      } else {
        rightWinExists = true; // w.start === ts + 1
      }
    }
    // Without a window starting in (0, ts], the combined window holds only records after ts
    // when its latest is after ts (an earlier record would have made such a window).
    if (rightWinAgg === undefined && combined !== undefined && combined.maxTimestamp > ts) rightWinAgg = combined;
    if (!rightWinExists && rightWinAgg !== undefined && rightWinAgg.maxTimestamp > ts) this.createRightWindow(r, rightWinAgg);
    if (previousTimestamp !== undefined && !starts.has(previousTimestamp + 1)) this.update(r, this.fresh(previousTimestamp + 1, ts), closeTime);
    this.update(r, combined ?? this.fresh(0, ts), closeTime);
  }

  /** The record's right window [ts + 1, ts + 1 + diff]: a copy of the aggregate of the records after it. */
  private createRightWindow(r: StreamRecord<K, V>, from: SlidingAggregate<VA>): void {
    const start = r.timestamp + 1;
    this.put(r.key, from.value, start, from.maxTimestamp);
    this.ctx.forward({ key: this.windowed(r.key, start), value: change(from.value, null), timestamp: from.maxTimestamp, headers: r.headers });
  }

  /** Adds the record to a window unless the window has closed. */
  private update(r: StreamRecord<K, V>, w: SlidingAggregate<VA>, closeTime: number): void {
    if (w.start + this.diff < closeTime) return;
    const next = this.aggregator(r.key, r.value, w.value);
    const maxTimestamp = Math.max(r.timestamp, w.maxTimestamp);
    this.put(r.key, next, w.start, maxTimestamp);
    this.applied++;
    this.ctx.forward({ key: this.windowed(r.key, w.start), value: change(next, w.existed ? w.value : null), timestamp: maxTimestamp, headers: r.headers });
  }

  private fresh(start: number, timestamp: number): SlidingAggregate<VA> {
    return { start, value: this.initializer(), maxTimestamp: timestamp, existed: false };
  }

  private windowed(key: K, start: number): Windowed<K> {
    return { key, window: { start, end: start + this.diff } };
  }

  private put(key: K, value: VA, start: number, maxTimestamp: number): void {
    this.stored.nextTimestamp = maxTimestamp;
    this.store.put(key, value, start);
  }

  /** The windows of a key starting in [from, to], oldest first (read before any is written). */
  private fetch(key: K, from: number, to: number): SlidingAggregate<VA>[] {
    const out: SlidingAggregate<VA>[] = [];
    for (const e of this.store.fetchRange(key, from, to)) out.push({ start: e.windowStart, value: e.value, maxTimestamp: this.stored.lastTimestamp, existed: true });
    return out;
  }
}
