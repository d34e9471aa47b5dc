import type { ConsumedRecord } from '../types.js';

/**
 * One partition a Kafka consumer reads: where it is, and the records fetched but not yet
 * returned by poll(). kafkajs fetches in the background into `buffer`; poll() takes from it.
 */
export class PartitionState {
  /** The start position is known (committed offset, reset, or a seek). */
  initialized = false;
  /** The next offset kafkajs is to fetch: after the last buffered record (and any control records). */
  fetchPosition = -1;
  /** A seek() before the start position was known: it wins over the committed offset. */
  pendingSeek: number | null = null;
  /** The user paused it: nothing is returned, fetching goes on until the buffer is full. */
  userPaused = false;
  /** Being revoked: nothing more is returned. */
  revoking = false;
  private buffer: ConsumedRecord[] = [];
  private head = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly key: string,
  ) {}

  get buffered(): number {
    return this.buffer.length - this.head;
  }

  /** The offset the next poll() returns: the first buffered record, else the fetch position. */
  get position(): number {
    return this.head < this.buffer.length ? this.buffer[this.head]!.offset : this.fetchPosition;
  }

  push(record: ConsumedRecord): void {
    this.buffer.push(record);
  }

  /** Moves up to `max` records to `out`; returns how many. */
  take(max: number, out: ConsumedRecord[]): number {
    const n = Math.min(max, this.buffer.length - this.head);
    for (let i = 0; i < n; i++) out.push(this.buffer[this.head + i]!);
    this.head += n;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    return n;
  }

  /** Forgets buffered records and continues from `offset`. */
  seek(offset: number): void {
    this.buffer = [];
    this.head = 0;
    this.fetchPosition = offset;
  }

  get tp(): { topic: string; partition: number } {
    return { topic: this.topic, partition: this.partition };
  }
}
