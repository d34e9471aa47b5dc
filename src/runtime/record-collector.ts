import type { OutgoingRecord } from '../log/types.js';
import type { OutputCollector } from '../processor/sink-node.js';

/**
 * A task's output since its last commit. Records leave only through a committed transaction;
 * a failed record's partial output is cut off with truncate(). seal() sets the output so far
 * aside for the commit being made, so that processing can go on while it is in flight.
 */
export class RecordCollector implements OutputCollector {
  private records: OutgoingRecord[] = [];
  /** Output of the commit in flight. */
  private sealed: OutgoingRecord[] = [];
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

  /** The records to put in the commit's transaction; later output starts a fresh list. */
  seal(): readonly OutgoingRecord[] {
    this.sealed = this.records;
    this.records = [];
    return this.sealed;
  }

  /** The commit of the sealed records succeeded: count what was sent. */
  committed(): void {
    for (const r of this.sealed) this.sentByTopic.set(r.topic, (this.sentByTopic.get(r.topic) ?? 0) + 1);
    this.sealed = [];
  }

  /** The transaction failed or the task is dropping its work: sealed and later output both go. */
  discard(): void {
    this.records = [];
    this.sealed = [];
  }

  /** Records committed per topic since the task started. */
  sentCounts(): ReadonlyMap<string, number> {
    return this.sentByTopic;
  }
}
