import { TopicError, TributaryError } from '../../errors/index.js';
import type { LogRecord, OffsetCommit } from '../types.js';
import { encodeBatch } from './record-batch-codec.js';
import type { Statements } from './statements.js';
import type { TopicMeta } from './topics.js';

/** The records of one append (or one transaction) bound for one partition: one row. */
interface PartitionBatch {
  readonly records: LogRecord[];
  payload: Buffer | null;
  /** Offset of the first record, known once appended. */
  baseOffset: number;
}

interface TopicBatches {
  readonly meta: TopicMeta;
  readonly partitions: (PartitionBatch | undefined)[];
}

/** Timestamps are integers within ±2^51 ms (±71,000 years): the difference of two of them still fits the codec. */
export const MAX_ABS_TIMESTAMP = 2 ** 51;

/** Checks what the codec relies on, when the record is accepted (so send() throws, not commit()). */
export function checkRecord(record: LogRecord, topic: string): void {
  const ts = record.timestamp;
  if (!Number.isInteger(ts) || ts > MAX_ABS_TIMESTAMP || ts < -MAX_ABS_TIMESTAMP) {
    throw new TributaryError(
      `record for topic '${topic}' has timestamp ${String(ts)}: it must be an integer number of epoch milliseconds (within ±2^51)`,
    );
  }
  if (record.key != null && !(record.key instanceof Uint8Array)) {
    throw new TributaryError(`record for topic '${topic}' has a key that is not a Buffer (serialize it first)`);
  }
  if (record.value != null && !(record.value instanceof Uint8Array)) {
    throw new TributaryError(`record for topic '${topic}' has a value that is not a Buffer (serialize it first)`);
  }
  const headers = record.headers;
  if (headers != null) {
    for (const name in headers) {
      if (!(headers[name] instanceof Uint8Array)) {
        throw new TributaryError(`record for topic '${topic}' has header '${name}' whose value is not a Buffer`);
      }
    }
  }
}

/**
 * Records waiting to be appended, grouped by topic and partition so that each partition gets
 * one batch (one row) per append, however the records were interleaved.
 */
export class RecordAccumulator {
  private readonly topics = new Map<string, TopicBatches>();
  private lastTopic: TopicBatches | undefined;
  /** Records accumulated. */
  size = 0;
  /** Bytes of the encoded batches (after encode()). */
  bytes = 0;

  /** Adds a checked record for `partition` of the topic; returns its index in that partition's batch. */
  add(meta: TopicMeta, partition: number, record: LogRecord): number {
    let topic = this.lastTopic;
    if (topic === undefined || topic.meta !== meta) {
      topic = this.topics.get(meta.name);
      if (topic === undefined || topic.meta.id !== meta.id) {
        if (topic !== undefined) throw new TopicError(`topic '${meta.name}' was deleted and created again during this append`);
        topic = { meta, partitions: new Array<PartitionBatch | undefined>(meta.partitions) };
        this.topics.set(meta.name, topic);
      }
      this.lastTopic = topic;
    }
    let batch = topic.partitions[partition];
    if (batch === undefined) {
      batch = { records: [], payload: null, baseOffset: -1 };
      topic.partitions[partition] = batch;
    }
    this.size++;
    return batch.records.push(record) - 1;
  }

  /** Offset the record at `index` of this partition's batch got (after append()). */
  offsetOf(topic: string, partition: number, index: number): number {
    return this.topics.get(topic)!.partitions[partition]!.baseOffset + index;
  }

  /** Encodes every batch; done before the write transaction so that the lock is held briefly. */
  encode(): void {
    for (const topic of this.topics.values()) {
      for (const batch of topic.partitions) {
        if (batch !== undefined && batch.payload === null) {
          batch.payload = encodeBatch(batch.records);
          this.bytes += batch.payload.length;
        }
      }
    }
  }

  /**
   * Appends each partition's batch as one row and advances the partition's next offset. Call
   * inside a write transaction, after encode().
   */
  append(stmts: Statements): void {
    for (const topic of this.topics.values()) {
      const { id, name } = topic.meta;
      const parts = topic.partitions;
      for (let p = 0; p < parts.length; p++) {
        const batch = parts[p];
        if (batch === undefined) continue;
        const n = batch.records.length;
        const next = stmts.advancePartition.get(n, id, p);
        if (next === undefined) throw new TopicError(`topic '${name}' was deleted while records were being appended to it`);
        batch.baseOffset = next - n;
        stmts.insertBatch.run(id, p, next - 1, next - n, batch.payload!);
      }
    }
  }

  /** After append(): per partition written, the offset after its last record. */
  endOffsets(): OffsetCommit[] {
    const out: OffsetCommit[] = [];
    for (const topic of this.topics.values()) {
      topic.partitions.forEach((batch, partition) => {
        if (batch !== undefined) out.push({ topic: topic.meta.name, partition, offset: batch.baseOffset + batch.records.length });
      });
    }
    return out;
  }

  /** Names of the topics in this append. */
  topicNames(): IterableIterator<string> {
    return this.topics.keys();
  }

  clear(): void {
    this.topics.clear();
    this.lastTopic = undefined;
    this.size = 0;
    this.bytes = 0;
  }
}
