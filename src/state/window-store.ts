import type { Serde } from '../serde/serde.js';
import { parseWindowKey, readU64, segmentPrefix, windowKey, withSegment } from './internals/key-codec.js';
import { Segments } from './internals/segments.js';
import type { WriteBatchStore } from './internals/write-batch-store.js';
import type { KeyValue, Windowed, WindowStore } from './store-types.js';

/** Kafka Streams' default: segments of half the retention, at least a minute. */
export function defaultSegmentInterval(retentionMs: number): number {
  return Math.max(Math.floor(retentionMs / 2), 60_000);
}

/**
 * Windows of values per key, kept for `retentionMs` of stream time and dropped a whole segment
 * at a time. Point reads (`fetch`) work on every backend; scans (`fetchRange`, `fetchAll`) need
 * a backend that can iterate synchronously (sqlite, memory).
 */
export class TypedWindowStore<K, V> implements WindowStore<K, V> {
  private readonly segments: Segments;
  private seq = 0;

  constructor(
    readonly name: string,
    private readonly bytes: WriteBatchStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly topic: string,
    readonly retentionMs: number,
    segmentIntervalMs: number,
    private readonly retainDuplicates: boolean,
  ) {
    this.segments = new Segments(segmentIntervalMs, retentionMs, bytes);
  }

  put(key: K, value: V | null, windowStart: number): void {
    if (windowStart < this.segments.expiredBefore) return; // expired: as Kafka Streams, ignored
    this.segments.advance(windowStart);
    const k = this.keySerde.serialize(key, this.topic);
    const segment = this.segments.of(windowStart);
    let physical = windowKey(segment, k, windowStart, this.retainDuplicates && value !== null ? ++this.seq : 0);
    if (this.retainDuplicates && value !== null) {
      // The counter restarts with the process: skip numbers already taken by restored duplicates.
      while (this.bytes.get(physical) !== undefined) physical = windowKey(segment, k, windowStart, ++this.seq);
    }
    this.bytes.put(physical, value === null || value === undefined ? null : this.valueSerde.serialize(value, this.topic));
  }

  fetch(key: K, windowStart: number): V | undefined;
  fetch(key: K, timeFrom: number, timeTo: number): IterableIterator<{ windowStart: number; value: V }>;
  fetch(key: K, windowStart: number, timeTo?: number): V | undefined | IterableIterator<{ windowStart: number; value: V }> {
    if (timeTo !== undefined) return this.fetchRange(key, windowStart, timeTo);
    if (windowStart < this.segments.expiredBefore) return undefined;
    const v = this.bytes.get(windowKey(this.segments.of(windowStart), this.keySerde.serialize(key, this.topic), windowStart, 0));
    return v === undefined ? undefined : this.valueSerde.deserialize(v, this.topic);
  }

  *fetchRange(key: K, timeFrom: number, timeTo: number): IterableIterator<{ windowStart: number; value: V }> {
    const k = this.keySerde.serialize(key, this.topic);
    const from = Math.max(timeFrom, this.segments.expiredBefore, 0);
    if (timeTo < from) return;
    for (let seg = this.segments.of(from); seg <= this.segments.of(timeTo); seg++) {
      for (const e of this.bytes.range({ gte: windowKey(seg, k, from, 0), lte: windowKey(seg, k, timeTo, 0xffffffff) })) {
        const parsed = parseWindowKey(e.key);
        if (!parsed.key.equals(k)) continue; // a longer key sharing this prefix
        yield { windowStart: parsed.timestamp, value: this.valueSerde.deserialize(e.value, this.topic) };
      }
    }
  }

  *fetchAll(timeFrom: number, timeTo: number): IterableIterator<KeyValue<Windowed<K>, V>> {
    const from = Math.max(timeFrom, this.segments.expiredBefore, 0);
    if (timeTo < from) return;
    for (let seg = this.segments.of(from); seg <= this.segments.of(timeTo); seg++) {
      for (const e of this.bytes.range({ gte: segmentPrefix(seg), lt: segmentPrefix(seg + 1) })) {
        const parsed = parseWindowKey(e.key);
        if (parsed.timestamp < from || parsed.timestamp > timeTo) continue;
        yield {
          key: { key: this.keySerde.deserialize(parsed.key, this.topic), window: { start: parsed.timestamp, end: parsed.timestamp } },
          value: this.valueSerde.deserialize(e.value, this.topic),
        };
      }
    }
  }

  /** Physical key of a changelog key (restore): the segment comes from the timestamp in it. */
  static physicalKey(changelogKey: Buffer, segmentIntervalMs: number): Buffer {
    const timestamp = readU64(changelogKey, changelogKey.length - 12);
    return withSegment(Math.floor(timestamp / segmentIntervalMs), changelogKey);
  }
}
