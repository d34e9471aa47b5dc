import type { Admin } from 'kafkajs';
import { translateError } from './errors.js';

const ATTEMPTS = 5;

/**
 * kafkajs 2.2.4 throws a TypeError ("Cannot destructure property 'partitions' of 'low.pop(...)'")
 * when a ListOffsets answer lacks the topic, as happens on a busy broker while leadership settles:
 * as transient as NOT_LEADER_FOR_PARTITION, though kafkajs does not say so.
 */
export function isLeaderNotSettled(e: unknown): boolean {
  return e instanceof TypeError && /low\.pop|high\.pop/.test(e.message);
}

/**
 * Runs an admin request about `topics`, again while it fails with a retriable error: a partition
 * whose leader is not settled yet (a topic just created, a broker just restarted) answers
 * NOT_LEADER_FOR_PARTITION or LEADER_NOT_AVAILABLE (or kafkajs fails on an answer without the
 * topic, isLeaderNotSettled) for a moment, and kafkajs does not refresh its
 * metadata for ListOffsets by itself. Refreshes the topics' metadata before each retry; the last
 * failure is thrown as it came.
 */
export async function retryWhileLeaderMoves<T>(admin: Admin, topics: string[], request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (e) {
      if (attempt >= ATTEMPTS || !(isLeaderNotSettled(e) || translateError(e, 'retry').retriable)) throw e;
      await admin.fetchTopicMetadata({ topics }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
