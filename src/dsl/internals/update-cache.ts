import type { Headers } from '../../log/types.js';
import type { StreamRecord } from '../../processor/types.js';
import { change, type Change } from './change.js';

interface Pending<K, V> {
  key: K;
  /** The value downstream last saw: the store's value before this key's first update since the last flush. */
  oldValue: V | undefined;
  newValue: V;
  timestamp: number;
  headers: Headers;
}

/**
 * Kafka Streams' record cache for an aggregation: the store is updated at once, but downstream
 * gets one Change per key per commit (from the value it last saw to the latest), or earlier for
 * the keys held longest once more than `maxKeys` wait. Fewer records to forward, produce and
 * write, for the same final values; off unless `recordCacheSize` is set.
 */
export class UpdateCache<K, V> {
  private readonly pending = new Map<unknown, Pending<K, V>>();

  constructor(
    private readonly maxKeys: number,
    private readonly emit: (record: StreamRecord<K, Change<V>>) => void,
  ) {}

  /** An update of `key` (`identity`: a primitive equal for equal keys) from `oldValue` to `newValue`. */
  update(identity: unknown, key: K, newValue: V, oldValue: V | undefined, timestamp: number, headers: Headers): void {
    const held = this.pending.get(identity);
    if (held !== undefined) {
      held.newValue = newValue;
      held.timestamp = timestamp;
      held.headers = headers;
      // most recently updated last: the eviction below emits the keys that waited longest
      this.pending.delete(identity);
      this.pending.set(identity, held);
      return;
    }
    this.pending.set(identity, { key, oldValue, newValue, timestamp, headers });
    if (this.pending.size > this.maxKeys) this.evict(Math.max(1, Math.floor(this.maxKeys / 2)));
  }

  /** Forwards every held update (before a commit), oldest first. */
  flush(): void {
    this.evict(this.pending.size);
  }

  /** Drops every held update: the store's uncommitted writes are being thrown away too. */
  discard(): void {
    this.pending.clear();
  }

  private evict(count: number): void {
    const out: Pending<K, V>[] = [];
    for (const [identity, p] of this.pending) {
      if (out.length >= count) break;
      out.push(p);
      this.pending.delete(identity);
    }
    for (const p of out) this.emit({ key: p.key, value: change(p.newValue, p.oldValue), timestamp: p.timestamp, headers: p.headers });
  }
}

/** A Map key for a record key: itself when primitive, its JSON otherwise (structured keys). */
export function keyIdentity(key: unknown): unknown {
  return typeof key === 'object' && key !== null && !Buffer.isBuffer(key) ? JSON.stringify(key) : Buffer.isBuffer(key) ? key.toString('latin1') : key;
}
