/**
 * Routing records to partitions and cutting them into produce requests.
 *
 * Every record is routed here, before kafkajs sees it, with kafkajs' DefaultPartitioner (Kafka's
 * murmur2 for keys, bit for bit `partitionForKey` of src/log/partitioner.ts; round robin for null
 * keys), so the producer knows which partition each record went to and can return its offset.
 *
 * kafkajs puts all of a partition's records of one send into one record batch, and the broker
 * refuses a batch above `max.message.bytes` (1 MiB by default): records are therefore cut into
 * rounds, each with at most one chunk of at most MAX_CHUNK_BYTES per partition, sent one round
 * after the other. Within a partition the order of `records` is kept.
 *
 * Each chunk goes to kafkajs as one message carrying its records already encoded
 * (record-encoder.ts), which the patched kafkajs frames into the partition's record batch.
 */
import { Partitioners, type Message, type PartitionMetadata, type RecordMetadata, type TopicMessages } from 'kafkajs';
import { TopicError } from '../../errors/index.js';
import type { OffsetCommit, OutgoingRecord } from '../types.js';
import { approximateSize } from './record-codec.js';
import { encodeRecords, type EncodedRecords } from './record-encoder.js';

export const MAX_CHUNK_BYTES = 512 * 1024;

type KafkaPartitioner = ReturnType<typeof Partitioners.DefaultPartitioner>;

/** Chooses partitions as Kafka's default partitioner does; one per producer (round-robin state). */
export class PartitionRouter {
  private readonly partitioner: KafkaPartitioner = Partitioners.DefaultPartitioner();

  /**
   * The partition of `record`, given the topic's partitions. An explicit partition out of range
   * is a TopicError.
   */
  route(record: OutgoingRecord, partitions: PartitionMetadata[]): number {
    const p = record.partition;
    const n = partitions.length;
    if (p != null) {
      if (!Number.isInteger(p) || p < 0 || p >= n) {
        throw new TopicError(`topic '${record.topic}' has ${n} partition(s): there is no partition ${p}`);
      }
      return p;
    }
    return this.partitioner({
      topic: record.topic,
      partitionMetadata: partitions,
      message: { key: record.key == null ? null : (record.key as Buffer), value: null },
    });
  }
}

interface Chunk {
  topic: string;
  partition: number;
  /** Indexes into the records of the plan, in send order. */
  indexes: number[];
  bytes: number;
}

/** A kafkajs message standing for a chunk's encoded records (see the kafkajs patch). */
type EncodedMessage = Message & { tributaryRecords: EncodedRecords };

/** One produce request: at most one chunk per partition. */
export interface ProduceRound {
  topicMessages: TopicMessages[];
  chunks: Chunk[];
}

/** Records cut into rounds, and how to turn the broker's base offsets into per-record offsets. */
export class ProducePlan {
  readonly rounds: ProduceRound[] = [];
  /** Per record, in the order given: its partition. */
  readonly partitions: Int32Array;

  constructor(records: readonly OutgoingRecord[], partitions: Int32Array) {
    this.partitions = partitions;
    // per partition, the chunks in order; a new chunk starts when the current one is full
    const perPartition = new Map<string, Chunk[]>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const partition = partitions[i]!;
      const key = `${r.topic}\u0000${partition}`;
      let chunks = perPartition.get(key);
      if (chunks === undefined) perPartition.set(key, (chunks = []));
      const size = approximateSize(r);
      let last = chunks[chunks.length - 1];
      if (last === undefined || (last.bytes + size > MAX_CHUNK_BYTES && last.indexes.length > 0)) {
        last = { topic: r.topic, partition, indexes: [], bytes: 0 };
        chunks.push(last);
      }
      last.indexes.push(i);
      last.bytes += size;
    }
    // round k holds chunk k of every partition that has one
    for (let k = 0; ; k++) {
      const chunks: Chunk[] = [];
      for (const list of perPartition.values()) if (list[k] !== undefined) chunks.push(list[k]!);
      if (chunks.length === 0) break;
      const byTopic = new Map<string, Message[]>();
      for (const c of chunks) {
        const message: EncodedMessage = { partition: c.partition, key: null, value: null, tributaryRecords: encodeRecords(records, c.indexes) };
        const list = byTopic.get(c.topic);
        if (list === undefined) byTopic.set(c.topic, [message]);
        else list.push(message);
      }
      this.rounds.push({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })), chunks });
    }
  }

  /** Offsets of the records of `round`, from what the broker answered, into `out` (by record index). */
  static assignOffsets(round: ProduceRound, results: RecordMetadata[], out: OffsetCommit[]): void {
    for (const chunk of round.chunks) {
      const first = baseOffset(chunk, results);
      chunk.indexes.forEach((recordIndex, i) => {
        out[recordIndex] = { topic: chunk.topic, partition: chunk.partition, offset: first + i };
      });
    }
  }

  /** Per partition written in `round`, the offset after its last record, into `ends` (the furthest seen stays). */
  static assignEnds(round: ProduceRound, results: RecordMetadata[], ends: Map<string, OffsetCommit>): void {
    for (const chunk of round.chunks) {
      const end = baseOffset(chunk, results) + chunk.indexes.length;
      const key = `${chunk.topic}\u0000${chunk.partition}`;
      const seen = ends.get(key);
      if (seen === undefined || end > seen.offset) ends.set(key, { topic: chunk.topic, partition: chunk.partition, offset: end });
    }
  }
}

/** The offset the broker gave a chunk's first record. */
function baseOffset(chunk: Chunk, results: RecordMetadata[]): number {
  const result = results.find((r) => r.topicName === chunk.topic && r.partition === chunk.partition);
  const base = result?.baseOffset ?? result?.offset;
  if (base === undefined) throw new TopicError(`the broker did not answer for ${chunk.topic}-${chunk.partition}`);
  return Number(base);
}
