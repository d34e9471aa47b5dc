import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Admin } from 'kafkajs';
import { retryWhileLeaderMoves } from '../../src/log/kafka/leader-retry.js';
import { protocolError } from './kafka-faults.js';

/** kafkajs' NOT_LEADER_FOR_PARTITION, which it marks retriable (as its error table does). */
const notLeader = () => Object.assign(protocolError('NOT_LEADER_FOR_PARTITION', 6, 'This server is not the leader for that topic-partition'), { retriable: true });

/** Only what retryWhileLeaderMoves uses of kafkajs' Admin: a metadata refresh, counted. */
function adminCountingRefreshes(): { admin: Admin; refreshes: string[][] } {
  const refreshes: string[][] = [];
  const admin = { fetchTopicMetadata: async ({ topics }: { topics: string[] }) => void refreshes.push(topics) } as unknown as Admin;
  return { admin, refreshes };
}

it('a request that meets a moving leader is tried again after a metadata refresh', async () => {
  const { admin, refreshes } = adminCountingRefreshes();
  let calls = 0;
  const result = await retryWhileLeaderMoves(admin, ['t'], async () => {
    if (++calls <= 2) throw notLeader();
    return 'offsets';
  });
  assert.equal(result, 'offsets');
  assert.equal(calls, 3);
  assert.deepEqual(refreshes, [['t'], ['t']]);
});

it('an error that is not retriable is thrown at once; a leader that never settles, after 5 attempts', async () => {
  const { admin, refreshes } = adminCountingRefreshes();
  let calls = 0;
  await assert.rejects(
    retryWhileLeaderMoves(admin, ['t'], async () => {
      calls++;
      throw protocolError('TOPIC_AUTHORIZATION_FAILED', 29, 'Not authorized to access topics');
    }),
    /Not authorized/,
  );
  assert.equal(calls, 1);
  assert.deepEqual(refreshes, []);
  calls = 0;
  await assert.rejects(
    retryWhileLeaderMoves(admin, ['t'], async () => {
      calls++;
      throw notLeader();
    }),
    /not the leader/,
  );
  assert.equal(calls, 5);
});

it("kafkajs' TypeError on a ListOffsets answer without the topic counts as a leader not settled", async () => {
  const { admin, refreshes } = adminCountingRefreshes();
  let calls = 0;
  const result = await retryWhileLeaderMoves(admin, ['t'], async () => {
    if (++calls === 1) throw new TypeError("Cannot destructure property 'partitions' of 'low.pop(...)' as it is undefined.");
    return 'offsets';
  });
  assert.equal(result, 'offsets');
  assert.equal(calls, 2);
  assert.deepEqual(refreshes, [['t']]);
});
