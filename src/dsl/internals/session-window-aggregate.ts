import type { InternalProcessorContext } from '../../processor/processor-node.js';
import type { Processor, StreamRecord } from '../../processor/types.js';
import type { KeyValue, SessionStore, Windowed } from '../../state/store-types.js';
import type { SessionWindows } from '../windows.js';
import { change, type Change } from './change.js';

/**
 * windowedBy(SessionWindows).aggregate / count / reduce, as Kafka Streams'
 * KStreamSessionWindowAggregate. A record starts the session [ts, ts]; every session of its
 * key that ends at or after ts - gap and starts at or before ts + gap merges with it (their
 * aggregates combined with the merger, oldest end first, then the record folded in). The
 * merged sessions are removed and emitted as tombstones (new value null, old value theirs),
 * then the new session is emitted. A session is closed once its end < stream time - grace -
 * gap; a record whose (merged) session would end before that is dropped and counted.
 * Updates carry the session's end as their timestamp, as in Kafka Streams.
 */
export class SessionWindowAggregateProcessor<K, V, VA> implements Processor<K, V, Windowed<K>, Change<VA>> {
  private ctx!: InternalProcessorContext<Windowed<K>, Change<VA>>;
  private store!: SessionStore<K, VA>;
  private observed = -Infinity;

  constructor(
    private readonly storeName: string,
    private readonly windows: SessionWindows,
    private readonly initializer: () => VA,
    private readonly aggregator: (key: K, value: V, aggregate: VA) => VA,
    private readonly merger: (key: K, aggregate1: VA, aggregate2: VA) => VA,
  ) {}

  init(context: InternalProcessorContext<Windowed<K>, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore<SessionStore<K, VA>>(this.storeName);
  }

  process(r: StreamRecord<K, V>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-value');
    if (r.timestamp < 0) return this.ctx.recordDropped('negative-timestamp');
    const ts = r.timestamp;
    const gap = this.windows.inactivityGapMs;
    if (ts > this.observed) this.observed = ts;
    const closeTime = this.observed - this.windows.graceMs - gap;

    // Read every overlapping session before writing any.
    const merged: KeyValue<Windowed<K>, VA>[] = [];
    for (const s of this.store.findSessions(r.key, ts - gap, ts + gap)) merged.push(s);
    let start = ts;
    let end = ts;
    let agg = this.initializer();
    for (const s of merged) {
      agg = this.merger(r.key, agg, s.value);
      if (s.key.window.start < start) start = s.key.window.start;
      if (s.key.window.end > end) end = s.key.window.end;
    }
    if (end < closeTime) return this.ctx.recordDropped('late-record');

    if (start !== ts || end !== ts) {
      for (const s of merged) {
        this.store.remove(s.key);
        this.ctx.forward({ key: s.key, value: change<VA>(null, s.value), timestamp: s.key.window.end, headers: r.headers });
      }
    }
    agg = this.aggregator(r.key, r.value, agg);
    const session: Windowed<K> = { key: r.key, window: { start, end } };
    this.store.put(session, agg);
    this.ctx.forward({ key: session, value: change(agg, null), timestamp: end, headers: r.headers });
  }
}
