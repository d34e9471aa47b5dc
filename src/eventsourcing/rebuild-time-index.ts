/**
 * Finds where a point in time starts in a partition, over the Log port (which has no
 * offsets-for-times lookup): a binary search that reads one record per probe. It assumes record
 * timestamps do not decrease along a partition, as for events appended by an application.
 */
import type { Log, PartitionOffsets } from '../log/types.js';

/** The first offset of the partition whose record has `timestamp >= ts` (its high offset when none has). */
export async function offsetForTimestamp(log: Log, topic: string, partition: PartitionOffsets, ts: number): Promise<number> {
  const consumer = log.consumer({ maxPollRecords: 1, isolationLevel: 'read_committed' });
  const tp = { topic, partition: partition.partition };
  try {
    consumer.assign([tp]);
    let lo = partition.low;
    let hi = partition.high;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      consumer.seek(tp, mid);
      const [record] = await consumer.poll(200);
      if (record === undefined) hi = mid;
      else if (record.timestamp < ts) lo = record.offset + 1;
      else hi = mid;
    }
    return lo;
  } finally {
    await consumer.close();
  }
}
