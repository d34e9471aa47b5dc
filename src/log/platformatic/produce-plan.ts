/**
 * Routing records to partitions and cutting them into produce rounds. Every record is routed
 * here, before the client sees it: an explicit partition is checked (the client would silently
 * take it modulo the partition count), a keyed record goes to `partitionForKey` (Kafka's murmur2,
 * as the Java client and the embedded log do), a null key goes round robin. A round holds at
 * most one chunk of at most MAX_CHUNK_BYTES per partition (the broker refuses a record batch
 * above `max.message.bytes`, 1 MiB by default); within a partition the order of `records` is kept.
 *
 * A chunk also never holds records whose timestamps lie 2^31 ms (about 24.8 days) or more from
 * its first record's: @platformatic/dynamic-buffer 0.3.1 zigzag-encodes a varlong with
 * `(v << 1n) ^ (v >> 31n)` instead of `>> 63n`, so a larger record `timestampDelta` is written
 * wrong (1_700_000_000_123 after a record at 0 reads back as -1_700_000_000_497, for any client).
 * Such a record starts a new chunk, where its delta is 0.
 */
import type { MessageToProduce } from '@platformatic/kafka';
import { TopicError } from '../../errors/index.js';
import { partitionForKey } from '../partitioner.js';
import type { OffsetCommit, OutgoingRecord } from '../types.js';
import { approximateSize } from '../kafka/record-codec.js';

export const MAX_CHUNK_BYTES = 512 * 1024;
/** Largest timestamp distance from a chunk's first record that the client encodes correctly. */
export const MAX_TIMESTAMP_DELTA = 2 ** 31 - 1;

/** Chooses partitions; one per producer (it keeps the round-robin position of each topic). */
export class PartitionRouter {
  private readonly next = new Map<string, number>();

  route(record: OutgoingRecord, partitions: number): number {
    if (record.partition !== undefined) {
      const p = record.partition;
      if (!Number.isInteger(p) || p < 0 || p >= partitions) {
        throw new TopicError(`topic '${record.topic}' has ${partitions} partition(s): there is no partition ${String(p)}`);
      }
      return p;
    }
    if (record.key != null) return partitionForKey(record.key, partitions);
    const n = this.next.get(record.topic) ?? Math.floor(Math.random() * partitions);
    this.next.set(record.topic, n + 1);
    return n % partitions;
  }
}

function toMessage(record: OutgoingRecord, partition: number): MessageToProduce {
  const headers = new Map<Buffer, Buffer>();
  for (const name in record.headers) {
    const v = record.headers[name]!;
    headers.set(Buffer.from(name, 'utf8'), Buffer.isBuffer(v) ? v : Buffer.from(v));
  }
  const message: MessageToProduce = { topic: record.topic, partition, timestamp: BigInt(record.timestamp), headers };
  if (record.key != null) message.key = Buffer.isBuffer(record.key) ? record.key : Buffer.from(record.key);
  if (record.value != null) message.value = Buffer.isBuffer(record.value) ? record.value : Buffer.from(record.value);
  return message;
}

export interface ProduceRound {
  messages: MessageToProduce[];
  /** For each message, the index of its record in `records`. */
  indexes: number[];
}

export class ProducePlan {
  readonly rounds: ProduceRound[] = [];

  constructor(records: readonly OutgoingRecord[], partitions: Int32Array) {
    const chunks = new Map<string, { size: number; round: number; firstTimestamp: number }>();
    const roundOf = new Map<string, number>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const key = `${r.topic}\u0000${partitions[i]}`;
      const size = approximateSize(r);
      let chunk = chunks.get(key);
      const tooFar = chunk !== undefined && Math.abs(r.timestamp - chunk.firstTimestamp) > MAX_TIMESTAMP_DELTA;
      if (chunk === undefined || tooFar || (chunk.size > 0 && chunk.size + size > MAX_CHUNK_BYTES)) {
        const round = (roundOf.get(key) ?? -1) + 1;
        roundOf.set(key, round);
        chunk = { size: 0, round, firstTimestamp: r.timestamp };
        chunks.set(key, chunk);
      }
      chunk.size += size;
      while (this.rounds.length <= chunk.round) this.rounds.push({ messages: [], indexes: [] });
      const round = this.rounds[chunk.round]!;
      round.messages.push(toMessage(r, partitions[i]!));
      round.indexes.push(i);
    }
  }

  /**
   * Fills `out` with each record's offset: one produce request has one batch per partition, whose
   * records get consecutive offsets from the base offset the broker answered.
   */
  static assignOffsets(round: ProduceRound, bases: readonly { topic: string; partition: number; offset: bigint }[] | undefined, out: OffsetCommit[]): void {
    const base = new Map<string, number>();
    for (const b of bases ?? []) base.set(`${b.topic}\u0000${b.partition}`, Number(b.offset));
    const seen = new Map<string, number>();
    for (let i = 0; i < round.messages.length; i++) {
      const m = round.messages[i]!;
      const key = `${m.topic}\u0000${m.partition}`;
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      const b = base.get(key);
      out[round.indexes[i]!] = { topic: m.topic, partition: m.partition!, offset: b === undefined ? -1 : b + n };
    }
  }

  /** Per topic-partition written, the offset after its last record. */
  static endOffsets(offsets: readonly OffsetCommit[]): OffsetCommit[] {
    const end = new Map<string, OffsetCommit>();
    for (const o of offsets) {
      if (o === undefined) continue;
      const key = `${o.topic}\u0000${o.partition}`;
      const prev = end.get(key);
      if (prev === undefined || o.offset + 1 > prev.offset) end.set(key, { topic: o.topic, partition: o.partition, offset: o.offset + 1 });
    }
    return [...end.values()];
  }
}
