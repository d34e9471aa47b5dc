/**
 * The one port to "a partitioned log". The runtime talks to nothing else; the embedded log
 * (better-sqlite3) and the Kafka backend (kafkajs) both implement it and pass the same
 * conformance suite. Nothing here knows about topologies, tasks or state stores.
 */

/** Record headers at the log level: names to raw bytes (Kafka allows repeats; we keep the last). */
export type Headers = Record<string, Buffer>;

/** A record as it is appended to a partition. `null` key / value are allowed (tombstones). */
export interface LogRecord {
  key: Buffer | null;
  value: Buffer | null;
  /** Event time in epoch milliseconds. */
  timestamp: number;
  headers: Headers;
}

/** A record read back from a partition, with its coordinates. */
export interface ConsumedRecord extends LogRecord {
  topic: string;
  partition: number;
  offset: number;
}

/** A record to append: the partition is chosen by the producer when it is not given. */
export interface OutgoingRecord extends LogRecord {
  topic: string;
  partition?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export type CleanupPolicy = 'delete' | 'compact';

export interface TopicSpec {
  name: string;
  partitions: number;
  cleanupPolicy?: CleanupPolicy;
  /** Internal topics (repartition, changelog) are created by the runtime and listed as such. */
  internal?: boolean;
}

export interface TopicDescription {
  name: string;
  partitions: number;
  cleanupPolicy: CleanupPolicy;
  internal: boolean;
}

export interface PartitionOffsets {
  partition: number;
  /** First offset still readable. */
  low: number;
  /** Offset the next appended record will get (the log end offset). */
  high: number;
}

/** Committed consumer-group offsets: the next offset to read, per topic-partition. */
export interface OffsetCommit extends TopicPartition {
  offset: number;
}

export interface LogAdmin {
  /** Creates the topics that do not exist yet; an existing topic with another partition count is an error. */
  createTopics(specs: TopicSpec[]): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Describes the named topics; an unknown name is an error naming it. */
  describeTopics(names: string[]): Promise<TopicDescription[]>;
  deleteTopics(names: string[]): Promise<void>;
  offsets(topic: string): Promise<PartitionOffsets[]>;
  committedOffsets(groupId: string, topics: string[]): Promise<OffsetCommit[]>;
  /** Overwrites a group's committed offsets (the reset tool); refused while the group has a live member. */
  setCommittedOffsets(groupId: string, offsets: OffsetCommit[]): Promise<void>;
}

/**
 * A producer transaction: records and consumer-group offsets that become visible together, or
 * not at all. On a non-transactional producer `commit()` is a plain flush.
 */
export interface LogTransaction {
  send(records: OutgoingRecord[]): void;
  /**
   * Commits these offsets for the consumer's group in the same transaction. The group metadata
   * fences zombies: the commit fails with FencedError when the member is no longer current.
   */
  sendOffsets(group: GroupMetadata, offsets: OffsetCommit[]): void;
  /** Appends everything atomically. Fails with FencedError when a newer producer or member took over. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface ProducerOptions {
  /** Set for exactly-once: the id fences older producers with the same id (zombies). */
  transactionalId?: string;
}

export interface LogProducer {
  /** Appends records outside any transaction (produce CLI, tests); returns their offsets. */
  send(records: OutgoingRecord[]): Promise<OffsetCommit[]>;
  beginTransaction(): LogTransaction;
  close(): Promise<void>;
}

/** Who a consumer is in its group: passed with offsets so a stale member cannot commit. */
export interface GroupMetadata {
  groupId: string;
  generationId: number;
  memberId: string;
}

/** Told by the consumer when the group hands it partitions or takes them away. */
export interface RebalanceListener {
  onAssigned(partitions: TopicPartition[]): Promise<void> | void;
  onRevoked(partitions: TopicPartition[]): Promise<void> | void;
}

export interface ConsumerOptions {
  /** The consumer group; without one, use assign() (no membership, no commits). */
  groupId?: string;
  /** Where to start a partition that has no committed offset. Default 'earliest'. */
  autoOffsetReset?: 'earliest' | 'latest';
  /** Upper bound on records returned by one poll. */
  maxPollRecords?: number;
  /** Only committed transactional data is read (the embedded log never exposes anything else). */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
}

export interface LogConsumer {
  /** Joins the group and follows its assignment of these topics' partitions. */
  subscribe(topics: string[], listener: RebalanceListener): Promise<void>;
  /** Reads exactly these partitions, outside any group (tail, tools). */
  assign(partitions: TopicPartition[]): void;
  /**
   * Returns the next records of the assigned, non-paused partitions in offset order per
   * partition, waiting up to `maxWaitMs` when there are none. Drives group membership: the
   * listener is called from inside poll().
   */
  poll(maxWaitMs: number): Promise<ConsumedRecord[]>;
  assignment(): TopicPartition[];
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** Next poll() of this partition starts at `offset`. */
  seek(partition: TopicPartition, offset: number): void;
  /** The next offset poll() will return for an assigned partition. */
  position(partition: TopicPartition): number;
  committed(partitions: TopicPartition[]): Promise<OffsetCommit[]>;
  groupMetadata(): GroupMetadata;
  /** Leaves the group. */
  close(): Promise<void>;
}

/** A partitioned, durable log: the embedded SQLite file or a Kafka cluster. */
export interface Log {
  readonly kind: 'embedded' | 'kafka' | 'memory';
  readonly admin: LogAdmin;
  producer(options?: ProducerOptions): LogProducer;
  consumer(options: ConsumerOptions): LogConsumer;
  close(): Promise<void>;
}

export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}
