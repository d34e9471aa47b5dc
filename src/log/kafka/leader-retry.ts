import type { Admin } from 'kafkajs';
import { translateError } from './errors.js';

const ATTEMPTS = 5;

/**
 * Runs an admin request about `topics`, again while it fails with a retriable error: a partition
 * whose leader is not settled yet (a topic just created, a broker just restarted) answers
 * NOT_LEADER_FOR_PARTITION or LEADER_NOT_AVAILABLE for a moment, and kafkajs does not refresh its
 * metadata for ListOffsets by itself. Refreshes the topics' metadata before each retry; the last
 * failure is thrown as it came.
 */
export async function retryWhileLeaderMoves<T>(admin: Admin, topics: string[], request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (e) {
      if (attempt >= ATTEMPTS || !translateError(e, 'retry').retriable) throw e;
      await admin.fetchTopicMetadata({ topics }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
