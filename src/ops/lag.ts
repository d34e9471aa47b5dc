/**
 * Consumer lag of an application: per partition of the topics its consumer group reads, the log
 * end (Kafka: the last stable offset) minus the group's committed offset. Computed from the Log
 * port's admin calls only, so it is the same on the embedded log and on Kafka, whether the
 * application runs or not (`tributary lag` reads it with the application stopped).
 */
import { TopicError } from '../errors/index.js';
import type { GroupDescription, Log, LogConsumer, OffsetCommit, TopicPartition } from '../log/types.js';
import type { Topology } from '../topology/topology.js';

/** The lag of one partition the group reads. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** The offset the next record appended will get (Kafka: the last stable offset). */
  logEnd: number;
  /** The group's committed offset (the next offset to read); undefined when it has none yet. */
  committed: number | undefined;
  /**
   * Records appended but not committed by the group: `logEnd - committed`, or `logEnd - low`
   * (every readable record) without a committed offset. Never negative. On Kafka a transaction
   * marker after the last record of a transactionally written topic counts as one.
   */
  lag: number;
  /** The task that owns the partition: `<subtopology>_<partition>`. */
  task: string;
}

/**
 * The topics whose lag counts for an application: every topic its stream tasks read, its own
 * repartition topics included (the group reads and commits them). Global tables and projections
 * read outside the group and are not counted.
 */
export function lagTopics(topology: Topology): string[] {
  return [...new Set(topology.subtopologies.flatMap((s) => [...s.sourceTopics]))];
}

/**
 * Lag per partition of `topics` for `groupId`, sorted by topic then partition. A topic that does
 * not exist yet (an internal topic before the first run) is left out.
 */
export async function consumerGroupLag(log: Log, groupId: string, topology: Topology): Promise<PartitionLag[]> {
  const topics = lagTopics(topology);
  const committed = new Map((await log.admin.committedOffsets(groupId, topics)).map((c) => [`${c.topic}\u0000${c.partition}`, c.offset]));
  const out: PartitionLag[] = [];
  for (const topic of [...topics].sort()) {
    let offsets;
    try {
      offsets = await log.admin.offsets(topic);
    } catch (err) {
      if (err instanceof TopicError) continue;
      throw err;
    }
    const subtopology = topology.subtopologyOf(topic)!;
    for (const p of offsets) {
      const c = committed.get(`${topic}\u0000${p.partition}`);
      const from = Math.max(c ?? p.low, p.low);
      out.push({ topic, partition: p.partition, logEnd: p.high, committed: c, lag: Math.max(0, p.high - from), task: `${subtopology.id}_${p.partition}` });
    }
  }
  return out;
}

/** Who runs a partition's task, as `tributary lag` shows it. */
export interface PartitionOwner {
  memberId: string;
  /** Kafka: the client host; embedded: `<hostname> pid <pid>`. */
  host: string;
  clientId: string;
}

/**
 * Maps each partition to the group member that has it, from LogAdmin.describeGroup(). A member
 * without a recorded assignment (the embedded log's one member) owns every partition.
 */
export function ownersByPartition(group: GroupDescription | undefined): (topic: string, partition: number) => PartitionOwner | undefined {
  if (group === undefined || group.members.length === 0) return () => undefined;
  const byPartition = new Map<string, PartitionOwner>();
  let everything: PartitionOwner | undefined;
  for (const m of group.members) {
    const owner = { memberId: m.memberId, host: m.host, clientId: m.clientId };
    if (m.assignment === undefined) everything = owner;
    else for (const tp of m.assignment) byPartition.set(`${tp.topic}\u0000${tp.partition}`, owner);
  }
  return (topic, partition) => byPartition.get(`${topic}\u0000${partition}`) ?? everything;
}

/**
 * Reads the timestamp of the oldest unconsumed record of lagging partitions (the record at the
 * committed offset), for `kafka_consumergroup_group_lag_seconds`. Keeps one consumer, reading
 * outside any group (on Kafka it joins a throwaway group once), and reuses it at each refresh.
 */
export class OldestRecordProbe {
  private consumer: LogConsumer | undefined;
  private assignedKey = '';

  constructor(private readonly log: Log) {}

  /**
   * `all` are the partitions that may lag (assigned once, kept), `starts` the lagging ones at
   * their next offset to read. Resolves with the timestamps found within `maxWaitMs`, by
   * `<topic>\0<partition>`; a partition whose record was not read in time is missing.
   */
  async timestamps(all: readonly TopicPartition[], starts: readonly OffsetCommit[], maxWaitMs: number): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (starts.length === 0) return found;
    this.consumer ??= this.log.consumer({ maxPollRecords: 500, isolationLevel: 'read_committed' });
    const consumer = this.consumer;
    const key = all.map((tp) => `${tp.topic}\u0000${tp.partition}`).sort().join('\u0001');
    if (key !== this.assignedKey) {
      consumer.assign(all.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
      this.assignedKey = key;
    }
    const wanted = new Set(starts.map((s) => `${s.topic}\u0000${s.partition}`));
    consumer.pause(all.filter((tp) => !wanted.has(`${tp.topic}\u0000${tp.partition}`)));
    for (const s of starts) {
      consumer.seek({ topic: s.topic, partition: s.partition }, s.offset);
      consumer.resume([{ topic: s.topic, partition: s.partition }]);
    }
    const deadline = Date.now() + maxWaitMs;
    while (found.size < wanted.size && Date.now() < deadline) {
      const records = await consumer.poll(Math.min(100, Math.max(0, deadline - Date.now())));
      for (const r of records) {
        const k = `${r.topic}\u0000${r.partition}`;
        if (!wanted.has(k) || found.has(k)) continue;
        found.set(k, r.timestamp);
        consumer.pause([{ topic: r.topic, partition: r.partition }]);
      }
    }
    return found;
  }

  async close(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    this.assignedKey = '';
    await consumer?.close().catch(() => undefined);
  }
}
