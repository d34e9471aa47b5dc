import type { ConsumedRecord } from '../types.js';
import { BatchCursor } from './record-batch-codec.js';
import type { Statements } from './statements.js';

/**
 * One assigned partition of a consumer: its position (the next offset to return), whether it is
 * paused, and the batch it is reading. A batch is read from the file once: when a poll stops in
 * the middle of it, the next poll goes on from the cursor without another query.
 */
export class PartitionReader {
  position: number;
  paused = false;
  private readonly cursor = new BatchCursor();

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly topicId: number,
    position: number,
  ) {
    this.position = position;
  }

  seek(offset: number): void {
    this.position = offset;
    if (this.cursor.nextOffset !== offset) this.cursor.clear();
  }

  /**
   * Appends up to `max` records from the position on to `out`, in offset order; returns how
   * many. Fetches batches with `last_offset >= position` and skips, in the first one, the
   * records below the position.
   */
  read(stmts: Statements, max: number, out: ConsumedRecord[]): number {
    const cursor = this.cursor;
    let n = 0;
    if (cursor.hasRemaining && cursor.nextOffset === this.position) {
      n = cursor.read(out, max, this.topic, this.partition);
      this.position = cursor.nextOffset;
      if (n >= max) return n;
    }
    for (const row of stmts.fetchBatches.iterate(this.topicId, this.partition, this.position, max - n)) {
      cursor.reset(row[1], row[0]);
      if (cursor.nextOffset < this.position) cursor.skipTo(this.position);
      n += cursor.read(out, max - n, this.topic, this.partition);
      this.position = cursor.nextOffset;
      if (n >= max) break;
    }
    return n;
  }
}
