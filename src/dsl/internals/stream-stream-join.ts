import type { InternalProcessorContext } from '../../processor/processor-node.js';
import type { Processor, StreamRecord } from '../../processor/types.js';
import type { Serde } from '../../serde/serde.js';
import { readU64, writeU64 } from '../../state/internals/key-codec.js';
import type { KeyValueStore, WindowStore } from '../../state/store-types.js';

/**
 * KStream-KStream windowed joins (Kafka Streams' KStreamKStreamJoin with the 3.x fix for
 * spurious left/outer results).
 *
 * Each side has a processor and a window store (duplicates kept) of its records. A record is
 * put into its side's store, then joined with every record of the other store under the same
 * key whose timestamp lies in its window: a left record at t joins right records in
 * [t - before, t + after] (a right record at t, left records in [t - after, t + before]). A
 * result's timestamp is the larger of the two.
 *
 * Left/outer joins: a record that found no partner is not emitted with null at once (a partner
 * may still come), but held in a store shared by both sides, keyed by timestamp, side and key.
 * A partner arriving later removes it. Once the join's stream time (the largest timestamp seen
 * on either side) passes the held record's window end plus grace (left: t + after + grace,
 * right: t + before + grace), nothing that arrives within grace can join it any more, and it is
 * emitted joined with null, with its own timestamp, oldest first.
 */

const LEFT = 0;
const RIGHT = 1;

/** Stream time of one join in one task, shared by its two sides (Kafka Streams' TimeTracker). */
interface JoinTime {
  streamTime: number;
  /** No record older than this is held for a null result (a lower bound; -Infinity: unknown). */
  minHeld: number;
}

/** The join times of one join, per task (both sides' processors of a task get the same one). */
export class JoinTimes {
  private readonly byTask = new Map<string, JoinTime>();
  get(taskId: string): JoinTime {
    let t = this.byTask.get(taskId);
    if (t === undefined) this.byTask.set(taskId, (t = { streamTime: -Infinity, minHeld: -Infinity }));
    return t;
  }
  remove(taskId: string): void {
    this.byTask.delete(taskId);
  }
}

export interface StreamStreamJoinSpec<K, VL, VR, VOut> {
  readonly leftStore: string;
  readonly rightStore: string;
  /** The held unmatched records of a left or outer join (raw bytes; see heldKey). */
  readonly outerStore: string | undefined;
  readonly beforeMs: number;
  readonly afterMs: number;
  readonly graceMs: number;
  /** Left records without a partner are emitted (leftJoin, outerJoin). */
  readonly leftOuter: boolean;
  /** Right records without a partner are emitted (outerJoin). */
  readonly rightOuter: boolean;
  /** From the left's point of view; null stands for "no partner". */
  readonly joiner: (left: VL | null, right: VR | null, key: K) => VOut;
  readonly times: JoinTimes;
  readonly keySerde: Serde<K>;
  readonly leftValueSerde: Serde<VL>;
  readonly rightValueSerde: Serde<VR>;
}

export class StreamStreamJoinProcessor<K, VL, VR, VOut> implements Processor<K, unknown, K, VOut> {
  private ctx!: InternalProcessorContext<K, VOut>;
  private thisWindow!: WindowStore<K, unknown>;
  private otherWindow!: WindowStore<K, unknown>;
  private held: KeyValueStore<Buffer, Buffer> | undefined;
  private time!: JoinTime;
  private readonly side: number;
  /** Other-side records within [t - lookBefore, t + lookAfter] join a record at t. */
  private readonly lookBefore: number;
  private readonly lookAfter: number;
  private readonly emitsUnmatched: boolean;
  private readonly retentionMs: number;
  /** Serdes of the held records see the store's changelog topic, as a store's serdes do. */
  private heldTopic = '';

  constructor(
    private readonly spec: StreamStreamJoinSpec<K, VL, VR, VOut>,
    isLeft: boolean,
  ) {
    this.side = isLeft ? LEFT : RIGHT;
    this.lookBefore = isLeft ? spec.beforeMs : spec.afterMs;
    this.lookAfter = isLeft ? spec.afterMs : spec.beforeMs;
    this.emitsUnmatched = isLeft ? spec.leftOuter : spec.rightOuter;
    this.retentionMs = spec.beforeMs + spec.afterMs + spec.graceMs;
  }

  init(context: InternalProcessorContext<K, VOut>): void {
    this.ctx = context;
    const isLeft = this.side === LEFT;
    this.thisWindow = context.getStateStore(isLeft ? this.spec.leftStore : this.spec.rightStore);
    this.otherWindow = context.getStateStore(isLeft ? this.spec.rightStore : this.spec.leftStore);
    if (this.spec.outerStore !== undefined) {
      this.held = context.getStateStore(this.spec.outerStore);
      this.heldTopic = `${context.applicationId}-${this.spec.outerStore}-changelog`;
    }
    this.time = this.spec.times.get(context.taskId);
  }

  close(): void {
    if (this.ctx !== undefined) this.spec.times.remove(this.ctx.taskId);
  }

  process(r: StreamRecord<K, unknown>): void {
    const t = r.timestamp;
    const time = this.time;
    if (t > time.streamTime) time.streamTime = t;
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-key-or-value');
    if (r.key === null || r.key === undefined) {
      // A null key cannot join anything; a left/outer side still emits it (Kafka Streams 3.7+).
      if (!this.emitsUnmatched) return this.ctx.recordDropped('null-key-or-value');
      this.ctx.forward({ key: r.key, value: this.joinWithNull(r.key, r.value), timestamp: t, headers: r.headers });
      return;
    }
    if (t < time.streamTime - this.retentionMs) return this.ctx.recordDropped('late-record');
    if (this.held !== undefined && t === time.streamTime) this.emitClosed();

    this.thisWindow.put(r.key, r.value, t);
    let matched = false;
    for (const other of this.otherWindow.fetchRange(r.key, Math.max(0, t - this.lookBefore), t + this.lookAfter)) {
      matched = true;
      if (this.held !== undefined) this.held.delete(this.heldKey(1 - this.side, r.key, other.windowStart));
      const value = this.side === LEFT ? this.spec.joiner(r.value as VL, other.value as VR, r.key) : this.spec.joiner(other.value as VL, r.value as VR, r.key);
      this.ctx.forward({ key: r.key, value, timestamp: Math.max(t, other.windowStart), headers: r.headers });
    }
    if (matched || !this.emitsUnmatched) return;
    if (this.held === undefined || t + this.lookAfter + this.spec.graceMs < time.streamTime) {
      // Its window has already closed: nothing that may still come can join it.
      this.ctx.forward({ key: r.key, value: this.joinWithNull(r.key, r.value), timestamp: t, headers: r.headers });
      return;
    }
    this.hold(r.key, r.value, t);
  }

  private joinWithNull(key: K, value: unknown): VOut {
    return this.side === LEFT ? this.spec.joiner(value as VL, null, key) : this.spec.joiner(null, value as VR, key);
  }

  /** Held records: key = timestamp(8) side(1) key bytes; value = the values, each length-prefixed. */
  private heldKey(side: number, key: K, timestamp: number): Buffer {
    const k = this.spec.keySerde.serialize(key, this.heldTopic);
    const out = Buffer.allocUnsafe(9 + k.length);
    writeU64(out, 0, timestamp);
    out.writeUInt8(side, 8);
    k.copy(out, 9);
    return out;
  }

  private hold(key: K, value: unknown, timestamp: number): void {
    const serde = (this.side === LEFT ? this.spec.leftValueSerde : this.spec.rightValueSerde) as Serde<unknown>;
    const v = serde.serialize(value, this.heldTopic);
    const entry = Buffer.allocUnsafe(4 + v.length);
    entry.writeUInt32BE(v.length, 0);
    v.copy(entry, 4);
    const k = this.heldKey(this.side, key, timestamp);
    const existing = this.held!.get(k);
    this.held!.put(k, existing === undefined ? entry : Buffer.concat([existing, entry]));
    if (timestamp < this.time.minHeld) this.time.minHeld = timestamp;
  }

  /** Emits, oldest first, the held records whose window has closed (end + grace < stream time). */
  private emitClosed(): void {
    const { afterMs, beforeMs, graceMs } = this.spec;
    const now = this.time.streamTime;
    if (this.time.minHeld + Math.min(afterMs, beforeMs) + graceMs >= now) return;
    const due: { key: Buffer; value: Buffer }[] = [];
    const open = [false, false];
    let firstOpen = Infinity;
    for (const e of this.held!.all()) {
      const ts = readU64(e.key, 0);
      const side = e.key.readUInt8(8);
      if (ts + (side === LEFT ? afterMs : beforeMs) + graceMs >= now) {
        // Entries are in timestamp order: every later one of this side is open too.
        if (firstOpen === Infinity) firstOpen = ts;
        open[side] = true;
        if (open[LEFT] && open[RIGHT]) break;
        continue;
      }
      due.push(e);
    }
    this.time.minHeld = firstOpen;
    for (const e of due) {
      this.held!.delete(e.key);
      const timestamp = readU64(e.key, 0);
      const isLeft = e.key.readUInt8(8) === LEFT;
      const key = this.spec.keySerde.deserialize(e.key.subarray(9), this.heldTopic);
      const serde = (isLeft ? this.spec.leftValueSerde : this.spec.rightValueSerde) as Serde<unknown>;
      for (let at = 0; at < e.value.length; ) {
        const length = e.value.readUInt32BE(at);
        const value = serde.deserialize(e.value.subarray(at + 4, at + 4 + length), this.heldTopic);
        at += 4 + length;
        const joined = isLeft ? this.spec.joiner(value as VL, null, key) : this.spec.joiner(null, value as VR, key);
        this.ctx.forward({ key, value: joined, timestamp, headers: {} });
      }
    }
  }
}
