import type { ConsumedRecord } from '../log/types.js';

/**
 * Fetched records of one input partition waiting in a task, in offset order. An array with a
 * moving head: appends and takes are O(1) and nothing is copied per record.
 */
export class PartitionQueue<S> {
  private records: ConsumedRecord[] = [];
  private head = 0;
  /** Records taken from this partition since the task started (less those of work thrown away). */
  taken = 0;
  /** `taken` at the last commit: work thrown away (a rewind) is not counted twice. */
  private takenAtCommit = 0;
  /** `taken` when the commit in flight was prepared. */
  private takenAtSeal = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** What the task needs to process this partition's records (its source node). */
    readonly source: S,
  ) {}

  get size(): number {
    return this.records.length - this.head;
  }

  add(records: readonly ConsumedRecord[]): void {
    if (this.head > 0 && this.head === this.records.length) {
      this.records = [];
      this.head = 0;
    }
    for (let i = 0; i < records.length; i++) this.records.push(records[i]!);
  }

  peekTimestamp(): number {
    return this.records[this.head]!.timestamp;
  }

  /** A commit is being prepared of what was taken so far. */
  seal(): void {
    this.takenAtSeal = this.taken;
  }

  /** What was taken up to seal() is committed. */
  markCommitted(): void {
    this.takenAtCommit = this.takenAtSeal;
  }

  /** What was taken since the last commit is thrown away, to be taken again. */
  forgetUncommitted(): void {
    this.taken = this.takenAtCommit;
  }

  take(): ConsumedRecord {
    this.taken++;
    const r = this.records[this.head]!;
    this.records[this.head++] = undefined as unknown as ConsumedRecord;
    if (this.head === this.records.length) {
      this.records = [];
      this.head = 0;
    }
    return r;
  }

  clear(): void {
    this.records = [];
    this.head = 0;
  }
}

/**
 * All input partitions of a task. Picks the next record by lowest timestamp across partitions
 * (Kafka Streams' PartitionGroup), so a task processes its inputs roughly in event-time order.
 */
export class PartitionGroup<S> {
  private readonly queues: PartitionQueue<S>[] = [];
  private readonly byKey = new Map<string, PartitionQueue<S>>();
  private buffered = 0;

  add(queue: PartitionQueue<S>): void {
    this.queues.push(queue);
    this.byKey.set(`${queue.topic}\u0000${queue.partition}`, queue);
  }

  queue(topic: string, partition: number): PartitionQueue<S> | undefined {
    return this.byKey.get(`${topic}\u0000${partition}`);
  }

  all(): readonly PartitionQueue<S>[] {
    return this.queues;
  }

  get size(): number {
    return this.buffered;
  }

  addRecords(queue: PartitionQueue<S>, records: readonly ConsumedRecord[]): void {
    queue.add(records);
    this.buffered += records.length;
  }

  /** The queue holding the next record to process, or undefined when all are empty. */
  nextQueue(): PartitionQueue<S> | undefined {
    if (this.buffered === 0) return undefined;
    const queues = this.queues;
    if (queues.length === 1) return queues[0];
    let best: PartitionQueue<S> | undefined;
    let bestTs = Infinity;
    for (let i = 0; i < queues.length; i++) {
      const q = queues[i]!;
      if (q.size === 0) continue;
      const ts = q.peekTimestamp();
      if (ts < bestTs) {
        best = q;
        bestTs = ts;
      }
    }
    return best;
  }

  taken(): void {
    this.buffered--;
  }

  clear(): void {
    for (const q of this.queues) q.clear();
    this.buffered = 0;
  }
}
