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
  /**
   * Event time in epoch milliseconds: an integer (Kafka's timestamps are longs). The embedded log
   * accepts integers within ±2^51 and rejects anything else when the record is sent.
   */
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
  /**
   * Low and high offsets of every partition of the topic, by partition; an unknown topic is an
   * error. (Kafka: `high` is the last stable offset, which stays below the log end while a
   * transaction is open on the partition.)
   */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** The group's committed offsets for these topics: only partitions that have one are listed. */
  committedOffsets(groupId: string, topics: string[]): Promise<OffsetCommit[]>;
  /** Overwrites a group's committed offsets (the reset tool); refused while the group has a live member. */
  setCommittedOffsets(groupId: string, offsets: OffsetCommit[]): Promise<void>;
  /**
   * The group's live members and their assignments (`tributary lag` shows who owns what). An
   * unknown group is described with no members. Optional: a backend without it has no owners to show.
   */
  describeGroup?(groupId: string): Promise<GroupDescription>;
}

/** A consumer group as LogAdmin.describeGroup() sees it. */
export interface GroupDescription {
  groupId: string;
  /** Kafka's group state ('Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'); embedded: 'Stable' with a live member, else 'Empty'. */
  state: string;
  members: GroupMemberDescription[];
}

export interface GroupMemberDescription {
  memberId: string;
  /** The client id (Kafka) or '' (embedded). */
  clientId: string;
  /** Where the member runs: Kafka's client host; embedded: `<hostname> pid <pid>`. */
  host: string;
  /**
   * The partitions the group assigned to the member. Absent where the log does not record it:
   * on the embedded log the one live member holds every partition of the group's topics.
   */
  assignment?: TopicPartition[];
}

/**
 * A producer transaction: records and consumer-group offsets that become visible together, or
 * not at all. On a non-transactional producer `commit()` is a plain flush.
 */
export interface LogTransaction {
  /**
   * Adds records to the transaction; nothing is visible before commit(). Routes each record at
   * once (see LogProducer.send), so a partition out of range or an invalid record throws here,
   * and then none of these records is added. (Kafka: a record for a topic whose metadata the
   * log has not loaded yet is routed, and a bad partition refused, at commit(); the whole
   * transaction then fails and nothing is written.)
   */
  send(records: readonly OutgoingRecord[]): void;
  /**
   * Commits these offsets for the consumer's group in the same transaction. Where the log has
   * `capabilities.generationFencing`, the group metadata fences zombies: the commit fails with
   * FencedError when the member is no longer current, and metadata without membership
   * (generation -1, from a consumer that used assign()) commits only while the group has no live
   * member. Kafka through kafkajs does not check it: fence by transactional id there.
   */
  sendOffsets(group: GroupMetadata, offsets: readonly OffsetCommit[]): void;
  /**
   * Appends everything atomically. Fails with FencedError when a newer producer or member took
   * over; then nothing of the transaction is written. A transaction is used once: after commit()
   * or abort(), any call is an IllegalStateError.
   *
   * Treat any failed commit as "restart from the committed state" (re-read the committed
   * offsets and the changelog), never as "send the same transaction again": on Kafka, a
   * connection lost while the broker ends the transaction leaves its outcome unknown (the error
   * is retriable and says so), and the committed offsets tell whether it went through.
   */
  commit(): Promise<TransactionResult>;
  /** Drops everything the transaction buffered. */
  abort(): Promise<void>;
}

/** What a committed transaction wrote. */
export interface TransactionResult {
  /** Per topic-partition written: the offset after its last record (changelog checkpoints use it). */
  endOffsets: OffsetCommit[];
}

export interface ProducerOptions {
  /**
   * Set for exactly-once: the id fences older producers with the same id (zombies). Opening a
   * producer with the id fences the previous one at once; a fenced producer fails every later
   * call with FencedError and should be closed.
   */
  transactionalId?: string;
}

export interface LogProducer {
  /**
   * Appends records outside any transaction (produce CLI, tests); returns their offsets, one per
   * record, in the order of `records`. A record without `partition` goes to
   * `partitionForKey(key)` (Kafka's murmur2 partitioner, src/log/partitioner.ts) when it has a
   * key, and round robin over the topic's partitions when its key is null. A topic that does not
   * exist is created (the embedded log: with its `defaultPartitions`); a partition out of range
   * is a TopicError.
   */
  send(records: OutgoingRecord[]): Promise<OffsetCommit[]>;
  /**
   * Settles when the producer is registered: with a transactional id, older producers with that
   * id are fenced and the transaction they left open has ended (committed or aborted), so the
   * committed offsets and changelogs read afterwards are final. Hand a task over in that order:
   * ready(), then read committed offsets, then restore. Rejects as commit() would (FencedError,
   * or a retriable error when the log cannot be reached).
   */
  ready(): Promise<void>;
  /** Starts a transaction; a producer has at most one open at a time (IllegalStateError otherwise). */
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
  /**
   * Optional. This member dropped out of the group (its session expired: a long pause, an
   * overloaded host) and joined again as a new member: every partition it had may have been
   * owned and committed by another member meanwhile, so work not yet committed must be thrown
   * away, not committed (Kafka's onPartitionsLost). Those it is given again come back through
   * onAssigned, from the committed offsets. Without it, onRevoked is called.
   */
  onLost?(partitions: TopicPartition[]): Promise<void> | void;
}

/**
 * Topics whose partition p must go to one member together (the sources of one sub-topology). Each
 * (group, partition) pair is a *unit* named `<id>_<partition>`: for the runtime, a stream task.
 */
export interface PartitionGroup {
  id: number;
  topics: readonly string[];
}

/**
 * How a subscribed consumer wants its group's partitions shared: by unit rather than by partition,
 * balanced across members, and sticky to the members that already hold a unit's state. The log
 * knows nothing of tasks; it only keeps each unit's partitions together.
 */
export interface PartitionGrouping {
  groups: readonly PartitionGroup[];
  /**
   * Asked at every (re)join: the units this member runs now (`active`) and the units whose state
   * it keeps on local disk (`standby`); the assignment prefers to give units back to them.
   */
  localUnits(): { active: readonly string[]; standby: readonly string[] };
  /**
   * Where this member answers interactive queries (`host:port`), advertised to the group with its
   * units, so that every member learns who serves which unit (LogConsumer.groupAssignment).
   */
  endpoint?: string;
}

/** One member of a group as its last assignment described it: its advertised endpoint and its units. */
export interface GroupMemberAssignment {
  /** The member's PartitionGrouping.endpoint; absent when it advertised none. */
  endpoint?: string;
  /** The units (`<group id>_<partition>`: stream tasks) the member was given. */
  units: string[];
}

export interface ConsumerOptions {
  /** The consumer group; without one, use assign() (no membership, no commits). */
  groupId?: string;
  /**
   * Share partitions by unit (see PartitionGrouping). Kafka: a partition assigner that keeps a
   * unit's partitions on one member, balanced and sticky. The embedded log has one member, which
   * gets every partition anyway. Without it, partitions are shared one by one (round robin).
   */
  grouping?: PartitionGrouping;
  /** Where to start a partition that has no committed offset (or one out of range). Default 'earliest'. */
  autoOffsetReset?: 'earliest' | 'latest';
  /** Upper bound on records returned by one poll. Default 1000. */
  maxPollRecords?: number;
  /** Only committed transactional data is read (the embedded log never exposes anything else). */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
}

export interface LogConsumer {
  /**
   * Joins the group and follows its assignment of these topics' partitions. The join happens in
   * the next poll(), which calls the listener. Needs a groupId; a consumer either subscribes or
   * assigns, not both (IllegalStateError). A topic that does not exist is a TopicError. The
   * embedded log gives the one member of the group every partition and refuses a second live
   * member with ApplicationRunningError (`capabilities.exclusiveGroupMember`).
   *
   * Kafka: members share the partitions and rebalance when members come and go. kafkajs
   * rebalances eagerly and has no revoke callback: the consumer stops returning records when it
   * starts rejoining, and the next poll() after the new assignment arrived calls onRevoked with
   * the partitions it lost (their unreturned records are dropped, never returned later), then
   * onAssigned with the partitions it gained. Partitions kept keep their position. So onRevoked
   * runs after the group moved on, when another member may own those partitions already: a
   * commit there is safe only under a transactional id per task.
   */
  subscribe(topics: string[], listener: RebalanceListener): Promise<void>;
  /**
   * Reads exactly these partitions, outside any group membership (tail, tools). Positions start
   * at the group's committed offsets when the consumer has a groupId, else per autoOffsetReset.
   */
  assign(partitions: TopicPartition[]): void;
  /**
   * Returns the next records of the assigned, non-paused partitions in offset order per
   * partition, waiting up to `maxWaitMs` when there are none. Drives group membership: the
   * listener is called from inside poll(). At most maxPollRecords records; the embedded log
   * shares them fairly between partitions (round robin, starting from a different partition
   * each poll). One poll() at a time per consumer (IllegalStateError otherwise).
   */
  poll(maxWaitMs: number): Promise<ConsumedRecord[]>;
  assignment(): TopicPartition[];
  /**
   * Optional. Every member of the group with the endpoint it advertised and the units it was
   * given, as the last assignment this consumer received said (a grouping consumer only).
   * Undefined before the first join, while the consumer is rejoining (a rebalance), and when the
   * assignment did not carry the group's map (a member of an older version led it). Kafka only:
   * on the embedded log one member holds everything, so every unit is local.
   */
  groupAssignment?(): GroupMemberAssignment[] | undefined;
  /** Stops returning records of these partitions until resume(); they must be assigned (IllegalStateError). */
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** Next poll() of this partition starts at `offset`. The partition must be assigned (IllegalStateError). */
  seek(partition: TopicPartition, offset: number): void;
  /**
   * The next offset poll() will return for an assigned partition (IllegalStateError if not
   * assigned). Kafka: right after assign() or a rebalance the start position is known only once
   * poll() looked it up (IllegalStateError before, unless seek() set it).
   */
  position(partition: TopicPartition): number;
  /** The group's committed offsets for these partitions: only partitions that have one are listed. Needs a groupId. */
  committed(partitions: TopicPartition[]): Promise<OffsetCommit[]>;
  /**
   * Who this consumer is in its group, for LogTransaction.sendOffsets(). Before it has joined
   * (and with assign()): generation -1 and member id ''. Needs a groupId (IllegalStateError).
   */
  groupMetadata(): GroupMetadata;
  /**
   * Leaves the group: calls the listener's onRevoked (during which position() and
   * groupMetadata() still answer, so the listener can commit), then closes. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * What a backend can guarantee, so the runtime can choose how to commit. The conformance suite
 * tests each guarantee on the backends that claim it, and the replacement on the others.
 */
export interface LogCapabilities {
  /**
   * `sendOffsets` with GroupMetadata fences a stale member (KIP-447 style), so one transaction
   * may carry every task of a process. Without it (kafkajs sends TxnOffsetCommit v0/v1 with no
   * generation), zombies are fenced only by transactional id: the runtime then commits each
   * task in a transaction of its own, with the id `<applicationId>-<taskId>`.
   * Embedded: yes. Kafka through kafkajs 2.2.4: no.
   */
  readonly generationFencing: boolean;
  /**
   * `TopicSpec.internal` is stored and `describeTopics()` gives it back. Embedded: yes. Kafka
   * has no such flag on ordinary topics: there a topic is internal when its name ends in
   * `-changelog` or `-repartition`, the names the runtime gives its internal topics (as Kafka
   * Streams does), whatever `internal` said at creation. Optional: absent means true.
   */
  readonly topicInternalFlag?: boolean;
  /**
   * A group has one live member at a time: a second one fails with ApplicationRunningError (one
   * application instance per embedded log). Kafka: no, members share the partitions and
   * rebalance (scale-out). Optional: absent means true.
   */
  readonly exclusiveGroupMember?: boolean;
}

/** A partitioned, durable log: the embedded SQLite file or a Kafka cluster. */
export interface Log {
  readonly kind: 'embedded' | 'kafka' | 'memory';
  readonly capabilities: LogCapabilities;
  readonly admin: LogAdmin;
  producer(options?: ProducerOptions): LogProducer;
  consumer(options: ConsumerOptions): LogConsumer;
  /**
   * Closes the log's consumers (they leave their groups), then its producers, then the
   * connection. Idempotent; any later use of the log or of what it made is a ClosedError.
   */
  close(): Promise<void>;
}

export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}
