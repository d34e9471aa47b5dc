import type { OutgoingRecord } from '../log/types.js';
import type { OutputCollector } from '../processor/sink-node.js';

/**
 * A task's output since its last commit. Records leave only through a committed transaction;
 * a failed record's partial output is cut off with truncate().
 */
export class RecordCollector implements OutputCollector {
  private records: OutgoingRecord[] = [];
  private readonly sentByTopic = new Map<string, number>();

  constructor(private readonly partitionCounts: (topic: string) => number | undefined) {}

  send(record: OutgoingRecord): void {
    this.records.push(record);
  }

  partitionCount(topic: string): number | undefined {
    return this.partitionCounts(topic);
  }

  get size(): number {
    return this.records.length;
  }

  truncate(size: number): void {
    this.records.length = size;
  }

  /** The records to put in the commit's transaction (still owned by the collector until committed()). */
  pending(): readonly OutgoingRecord[] {
    return this.records;
  }

  /** The transaction committed: count what was sent and start over. */
  committed(): void {
    for (const r of this.records) this.sentByTopic.set(r.topic, (this.sentByTopic.get(r.topic) ?? 0) + 1);
    this.records = [];
  }

  /** The transaction failed or the task is dropping its work. */
  discard(): void {
    this.records = [];
  }

  /** Records committed per topic since the task started. */
  sentCounts(): ReadonlyMap<string, number> {
    return this.sentByTopic;
  }
}
