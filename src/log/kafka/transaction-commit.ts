/**
 * Commits one Tributary transaction as one kafkajs transaction, and recovers from the known
 * kafkajs transaction bugs instead of handing them to the caller:
 *
 * - tulios/kafkajs#1315 (and #430, #304): right after a commit, the coordinator answers
 *   CONCURRENT_TRANSACTIONS until the last transaction's markers are written. kafkajs retries it
 *   for AddPartitionsToTxn (with short waits here, see PRODUCER_RETRY) but not for
 *   AddOffsetsToTxn: sendOffsets() is retried here with a short backoff.
 * - tulios/kafkajs#1282 / #1355: when EndTxn fails (connection lost, coordinator moved), kafkajs'
 *   state machine stays in COMMITTING or ABORTING and refuses every later transaction. The
 *   kafkajs producer is replaced: the new one's InitProducerId bumps the epoch, which makes the
 *   broker abort what the old one left open.
 * - tulios/kafkajs#598: OUT_OF_ORDER_SEQUENCE_NUMBER (or UNKNOWN_PRODUCER_ID) means the broker and
 *   the producer disagree on sequence numbers; the producer is replaced. Sends are serialized
 *   (ProducerHandle.run), which avoids the overlap that causes it in the first place.
 *
 * Records are buffered in memory until commit() (LogTransaction.send only routes them), so the
 * kafkajs transaction lives only for the duration of commit(): begin, produce, sendOffsets,
 * EndTxn. Before EndTxn nothing is visible, so a failed attempt is aborted (by abort(), or by
 * replacing the producer) and retried from the start. When EndTxn itself fails the outcome is
 * unknown: the error is retriable and says so, and the caller restarts from the committed state.
 */
import type { Producer, RecordMetadata } from 'kafkajs';
import { TributaryError } from '../../errors/index.js';
import type { GroupMetadata, OffsetCommit, TransactionResult } from '../types.js';
import { isConcurrentTransactions, isFenced, isOutOfOrderSequence, isStuckTransactionState, translateError } from './errors.js';
import { ProducePlan } from './produce-plan.js';
import type { ProducerHandle } from './producer-handle.js';

/** Offsets of one consumer group carried by a transaction. */
export interface GroupOffsets {
  /** The member's metadata as given to sendOffsets() (the broker does not check it in a transaction). */
  group: GroupMetadata;
  offsets: OffsetCommit[];
}

/** Whole-transaction attempts (after replacing the producer or waiting for a concurrent transaction). */
const MAX_ATTEMPTS = 5;
/** sendOffsets() attempts on CONCURRENT_TRANSACTIONS, with waits from 10 ms doubling to 1 s. */
const MAX_OFFSET_ATTEMPTS = 12;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What happened on the way, for tests and metrics. */
export interface CommitStats {
  attempts: number;
  producerReplacements: number;
  concurrentTransactionRetries: number;
}

function byTopic(offsets: OffsetCommit[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const m = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    const list = m.get(o.topic) ?? [];
    list.push({ partition: o.partition, offset: String(o.offset) });
    m.set(o.topic, list);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}

async function sendOffsetsWithRetry(
  txn: Awaited<ReturnType<Producer['transaction']>>,
  group: GroupOffsets,
  stats: CommitStats,
): Promise<void> {
  let wait = 10;
  for (let attempt = 1; ; attempt++) {
    try {
      await txn.sendOffsets({ consumerGroupId: group.group.groupId, topics: byTopic(group.offsets) });
      return;
    } catch (e) {
      if (!isConcurrentTransactions(e) || attempt >= MAX_OFFSET_ATTEMPTS) throw e;
      stats.concurrentTransactionRetries++;
      await sleep(wait);
      wait = Math.min(wait * 2, 1000);
    }
  }
}

/**
 * Produces the plan's records and the groups' offsets in one kafkajs transaction and commits it.
 * Throws FencedError when a newer producer has the transactional id (nothing is written).
 */
export async function commitTransaction(
  handle: ProducerHandle,
  plan: ProducePlan,
  groups: GroupOffsets[],
  stats: CommitStats = { attempts: 0, producerReplacements: 0, concurrentTransactionRetries: 0 },
): Promise<TransactionResult> {
  const id = handle.transactionalId!;
  const what = `commit a transaction of producer '${id}'`;
  let backoff = 20;
  for (let attempt = 1; ; attempt++) {
    stats.attempts = attempt;
    const producer = await handle.ready();
    let txn: Awaited<ReturnType<Producer['transaction']>>;
    try {
      txn = await producer.transaction();
    } catch (e) {
      if (isFenced(e)) throw translateError(e, what, id);
      if (isStuckTransactionState(e) && attempt < MAX_ATTEMPTS) {
        stats.producerReplacements++;
        await handle.replace();
        continue;
      }
      throw translateError(e, what, id);
    }
    let ending = false;
    try {
      const ends = new Map<string, OffsetCommit>();
      for (const round of plan.rounds) {
        const results: RecordMetadata[] = await txn.sendBatch({ topicMessages: round.topicMessages, acks: -1 });
        ProducePlan.assignEnds(round, results, ends);
      }
      for (const group of groups) await sendOffsetsWithRetry(txn, group, stats);
      ending = true;
      await txn.commit();
      return { endOffsets: [...ends.values()] };
    } catch (e) {
      if (isFenced(e)) throw translateError(e, what, id);
      if (ending) {
        // EndTxn failed: kafkajs is stuck in COMMITTING (#1282), and the outcome is unknown. Even
        // CONCURRENT_TRANSACTIONS does not mean "nothing committed": this transaction already
        // holds partitions, so the coordinator says it when an earlier EndTxn attempt of ours (a
        // timed-out request kafkajs retried) is completing the commit. Sending the transaction
        // again would write it twice (seen under load as duplicates in the chaos tests).
        stats.producerReplacements++;
        await handle.replace();
        throw new TributaryError(
          `${what}: ending the transaction failed, so it may or may not have committed; restart from the committed offsets ` +
            `(${translateError(e, 'end it', id).message})`,
          { cause: e, retriable: true },
        );
      }
      // nothing is visible yet: abort, or replace the producer when kafkajs cannot (#1282)
      let replaced = false;
      try {
        await txn.abort();
      } catch (abortError) {
        if (isFenced(abortError)) throw translateError(abortError, what, id);
        stats.producerReplacements++;
        await handle.replace();
        replaced = true;
      }
      if ((isOutOfOrderSequence(e) || isStuckTransactionState(e)) && attempt < MAX_ATTEMPTS) {
        if (!replaced) {
          stats.producerReplacements++;
          await handle.replace();
        }
        continue;
      }
      if (isConcurrentTransactions(e) && attempt < MAX_ATTEMPTS) {
        stats.concurrentTransactionRetries++;
        await sleep(backoff);
        backoff *= 2;
        continue;
      }
      throw translateError(e, what, id);
    }
  }
}
