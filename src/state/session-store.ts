import type { Serde } from '../serde/serde.js';
import { parseSessionKey, readU64, segmentPrefix, sessionKey, withSegment } from './internals/key-codec.js';
import { Segments } from './internals/segments.js';
import type { WriteBatchStore } from './internals/write-batch-store.js';
import type { KeyValue, SessionStore, Windowed } from './store-types.js';

const MAX_TIME = 2 ** 53 - 1;

/**
 * Sessions per key (a window from the first to the last record of a burst), kept for
 * `retentionMs` after they end and dropped a whole segment at a time. Needs a backend that can
 * iterate synchronously (sqlite, memory).
 */
export class TypedSessionStore<K, V> implements SessionStore<K, V> {
  private readonly segments: Segments;

  constructor(
    readonly name: string,
    private readonly bytes: WriteBatchStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly topic: string,
    readonly retentionMs: number,
    segmentIntervalMs: number,
  ) {
    this.segments = new Segments(segmentIntervalMs, retentionMs, bytes);
  }

  put(session: Windowed<K>, value: V): void {
    const { start, end } = session.window;
    if (end < this.segments.expiredBefore) return;
    this.segments.advance(end);
    this.bytes.put(sessionKey(this.segments.of(end), this.keySerde.serialize(session.key, this.topic), end, start), this.valueSerde.serialize(value, this.topic));
  }

  remove(session: Windowed<K>): void {
    const { start, end } = session.window;
    this.bytes.put(sessionKey(this.segments.of(end), this.keySerde.serialize(session.key, this.topic), end, start), null);
  }

  fetchSession(key: K, start: number, end: number): V | undefined {
    const v = this.bytes.get(sessionKey(this.segments.of(end), this.keySerde.serialize(key, this.topic), end, start));
    return v === undefined ? undefined : this.valueSerde.deserialize(v, this.topic);
  }

  *findSessions(key: K, earliestSessionEnd: number, latestSessionStart: number): IterableIterator<KeyValue<Windowed<K>, V>> {
    const k = this.keySerde.serialize(key, this.topic);
    const from = Math.max(0, earliestSessionEnd, this.segments.expiredBefore);
    const lastSegment = this.segments.of(Math.max(from, this.segments.observed));
    for (let seg = this.segments.of(from); seg <= lastSegment; seg++) {
      for (const e of this.bytes.range({ gte: sessionKey(seg, k, from, 0), lte: sessionKey(seg, k, MAX_TIME, MAX_TIME) })) {
        const parsed = parseSessionKey(e.key);
        if (!parsed.key.equals(k) || parsed.start > latestSessionStart) continue;
        yield { key: { key, window: { start: parsed.start, end: parsed.end } }, value: this.valueSerde.deserialize(e.value, this.topic) };
      }
    }
  }

  /** Every session whose end lies in [endFrom, endTo] (interactive queries, tests). */
  *fetchAll(endFrom: number, endTo: number): IterableIterator<KeyValue<Windowed<K>, V>> {
    for (let seg = this.segments.of(Math.max(0, endFrom)); seg <= this.segments.of(endTo); seg++) {
      for (const e of this.bytes.range({ gte: segmentPrefix(seg), lt: segmentPrefix(seg + 1) })) {
        const parsed = parseSessionKey(e.key);
        if (parsed.end < endFrom || parsed.end > endTo) continue;
        yield { key: { key: this.keySerde.deserialize(parsed.key, this.topic), window: { start: parsed.start, end: parsed.end } }, value: this.valueSerde.deserialize(e.value, this.topic) };
      }
    }
  }

  static physicalKey(changelogKey: Buffer, segmentIntervalMs: number): Buffer {
    const end = readU64(changelogKey, changelogKey.length - 16);
    return withSegment(Math.floor(end / segmentIntervalMs), changelogKey);
  }
}
