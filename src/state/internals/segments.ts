import { segmentPrefix } from './key-codec.js';
import type { WriteBatchStore } from './write-batch-store.js';

/**
 * The time-segments of a window or session store: which segment a time falls in, the latest
 * time the store has seen, and dropping every segment wholly older than the retention in one
 * range delete as that time moves on.
 */
export class Segments {
  /** The latest time put into the store (window start or session end). */
  observed = -Infinity;
  private droppedBelow = 0;

  constructor(
    readonly intervalMs: number,
    readonly retentionMs: number,
    private readonly bytes: WriteBatchStore,
  ) {}

  of(timestamp: number): number {
    return Math.floor(timestamp / this.intervalMs);
  }

  /** Times before this have expired. */
  get expiredBefore(): number {
    return this.observed - this.retentionMs;
  }

  /** Moves the observed time; segments wholly older than the retention are dropped. */
  advance(timestamp: number): void {
    if (timestamp <= this.observed) return;
    this.observed = timestamp;
    const firstLive = this.of(Math.max(0, timestamp - this.retentionMs));
    if (firstLive > this.droppedBelow) {
      this.bytes.deleteRange(segmentPrefix(this.droppedBelow), segmentPrefix(firstLive));
      this.droppedBelow = firstLive;
    }
  }
}
