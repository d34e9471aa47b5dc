import type { Producer, RecordMetadata } from 'kafkajs';
import { ClosedError, FencedError, IllegalStateError, TopicError, TributaryError } from '../../errors/index.js';
import type { LogProducer, LogTransaction, OffsetCommit, OutgoingRecord, ProducerOptions, TransactionResult } from '../types.js';
import type { KafkaContext } from './context.js';
import { isFenced, isOutOfOrderSequence, translateError } from './errors.js';
import { PartitionRouter, ProducePlan, type ProduceRound } from './produce-plan.js';
import { ProducerHandle } from './producer-handle.js';
import { checkRecord } from './record-codec.js';
import { type CommitStats, commitTransaction, type GroupOffsets } from './transaction-commit.js';
import { KafkaTransaction, type TransactionHost } from './transaction.js';

export interface KafkaProducerInternals {
  /** Test seam: wraps each kafkajs producer made (to inject faults). */
  wrapProducer?: (producer: Producer) => Producer;
  /** Settles when an older producer with the same transactional id has registered it. */
  after?: Promise<unknown>;
  /** Told when this producer closes (the log's registry of transactional ids). */
  onClose?: (producer: KafkaProducer) => void;
}

/**
 * Appends records to Kafka through one kafkajs producer: idempotent (acks=all, one request in
 * flight), routed by Kafka's default partitioner, offsets returned per record.
 *
 * With a `transactionalId` it is also transactional. The kafkajs producer registers the id
 * with the broker as soon as this producer is made, which fences older producers with that id
 * in any process (their next commit fails with FencedError); in this log, an older producer
 * with the same id is fenced at once. Transactions buffer in memory and become one kafkajs
 * transaction in commit() (see transaction-commit.ts for the kafkajs bugs handled there).
 */
export class KafkaProducer implements LogProducer, TransactionHost {
  private state: 'open' | 'fenced' | 'closed' = 'open';
  readonly transactionalId: string | undefined;
  readonly handle: ProducerHandle;
  readonly router = new PartitionRouter();
  private transaction: KafkaTransaction | null = null;
  private fencedReason: string | null = null;
  /** What the last commit() went through (attempts, producer replacements, retries). */
  lastCommitStats: CommitStats | null = null;

  constructor(
    readonly ctx: KafkaContext,
    options: ProducerOptions = {},
    private readonly internals: KafkaProducerInternals = {},
  ) {
    ctx.assertOpen();
    const id = options.transactionalId;
    if (id !== undefined && (typeof id !== 'string' || id.length === 0)) {
      throw new TributaryError('transactionalId must be a non-empty string');
    }
    this.transactionalId = id;
    this.handle = new ProducerHandle(ctx.kafka, {
      ...(id !== undefined ? { transactionalId: id } : {}),
      ...(internals.wrapProducer ? { wrap: internals.wrapProducer } : {}),
      ...(internals.after ? { after: internals.after } : {}),
    });
    ctx.resources.add(this);
    // register the transactional id now: that is what fences older producers on the broker
    if (id !== undefined) this.handle.ready().catch(() => undefined);
  }

  /** Settles when the transactional id is registered (or registration failed). */
  registered(): Promise<unknown> {
    return this.transactionalId === undefined ? Promise.resolve() : this.handle.ready().catch(() => undefined);
  }

  /** A newer producer with the same transactional id was made in this log. */
  fenceLocally(): void {
    if (this.state !== 'open') return;
    this.state = 'fenced';
    this.fencedReason = 'a newer producer with the same transactional id was opened in this process';
  }

  private markFenced(e: unknown): FencedError {
    this.state = 'fenced';
    const error = translateError(e, `use producer '${this.transactionalId}'`, this.transactionalId);
    this.fencedReason = error.message;
    return error instanceof FencedError ? error : new FencedError(error.message, { cause: e });
  }

  assertUsable(): void {
    this.ctx.assertOpen();
    if (this.state === 'closed') throw new ClosedError('this producer is closed');
    if (this.state === 'fenced') {
      throw new FencedError(`producer '${this.transactionalId}' was fenced: ${this.fencedReason ?? 'a newer producer took over'}; close it`);
    }
  }

  /** Checks records, loads their topics' metadata (creating unknown topics), routes them. */
  private async plan(records: readonly OutgoingRecord[]): Promise<ProducePlan> {
    for (const r of records) {
      if (typeof r.topic !== 'string' || r.topic.length === 0) throw new TopicError('a record has no topic');
      checkRecord(r, r.topic);
    }
    const topics = new Set(records.map((r) => r.topic));
    await this.ctx.topics.load(topics, true);
    const partitions = new Int32Array(records.length);
    try {
      for (let i = 0; i < records.length; i++) partitions[i] = this.router.route(records[i]!, this.ctx.topics.get(records[i]!.topic)!);
    } catch (e) {
      // the topic may have grown since it was cached: reload once, then decide
      if (!(e instanceof TopicError)) throw e;
      for (const t of topics) this.ctx.topics.invalidate(t);
      await this.ctx.topics.load(topics, true);
      for (let i = 0; i < records.length; i++) partitions[i] = this.router.route(records[i]!, this.ctx.topics.get(records[i]!.topic)!);
    }
    return new ProducePlan(records, partitions);
  }

  async ready(): Promise<void> {
    this.assertUsable();
    await this.handle.run(async () => {
      this.assertUsable();
      try {
        await this.handle.ready();
      } catch (e) {
        if (isFenced(e) && this.transactionalId !== undefined) throw this.markFenced(e);
        throw translateError(e, `register producer${this.transactionalId ? ` '${this.transactionalId}'` : ''} with Kafka`, this.transactionalId);
      }
    });
  }

  async send(records: OutgoingRecord[]): Promise<OffsetCommit[]> {
    const out = new Array<OffsetCommit>(records.length);
    await this.sendRounds(records, (round, results) => ProducePlan.assignOffsets(round, results, out));
    return out;
  }

  /** send() without a transaction, each round's answer handed to `onRound`. */
  private async sendRounds(records: OutgoingRecord[], onRound: (round: ProduceRound, results: RecordMetadata[]) => void): Promise<void> {
    this.assertUsable();
    if (records.length === 0) return;
    const plan = await this.plan(records);
    return this.handle.run(async () => {
      this.assertUsable();
      try {
        const producer = await this.handle.ready();
        for (const round of plan.rounds) onRound(round, await producer.sendBatch({ topicMessages: round.topicMessages, acks: -1 }));
      } catch (e) {
        if (isFenced(e) && this.transactionalId !== undefined) throw this.markFenced(e);
        // out of sequence (tulios/kafkajs#598): a fresh producer gets a fresh producer id
        if (isOutOfOrderSequence(e)) await this.handle.replace();
        for (const t of new Set(records.map((r) => r.topic))) this.ctx.topics.invalidate(t);
        throw translateError(e, `send ${records.length} record(s) to Kafka`);
      }
    });
  }

  beginTransaction(): LogTransaction {
    this.assertUsable();
    if (this.transaction !== null) {
      throw new IllegalStateError('this producer already has an open transaction: commit or abort it first');
    }
    const txn = new KafkaTransaction(this);
    this.transaction = txn;
    return txn;
  }

  transactionEnded(txn: KafkaTransaction): void {
    if (this.transaction === txn) this.transaction = null;
  }

  /** Routes records now when their topics' metadata is cached (else at commit time). */
  routeNow(record: OutgoingRecord): number {
    checkRecord(record, record.topic);
    const partitions = this.ctx.topics.get(record.topic);
    return partitions === undefined ? -1 : this.router.route(record, partitions);
  }

  /** Commits a transaction's buffered records and offsets as one Kafka transaction. */
  async commitBuffered(records: OutgoingRecord[], routed: Int32Array, groups: GroupOffsets[]): Promise<TransactionResult> {
    this.assertUsable();
    if (records.length === 0 && groups.length === 0) return { endOffsets: [] };
    // route what send() could not (topics not cached then)
    const unrouted = records.filter((_, i) => routed[i]! < 0);
    if (unrouted.length > 0) {
      await this.ctx.topics.load(new Set(unrouted.map((r) => r.topic)), true);
      for (let i = 0; i < records.length; i++) if (routed[i]! < 0) routed[i] = this.router.route(records[i]!, this.ctx.topics.get(records[i]!.topic)!);
    }
    const offsetTopics = new Set(groups.flatMap((g) => g.offsets.map((o) => o.topic)));
    await this.ctx.topics.load(offsetTopics, false);
    for (const g of groups) {
      for (const o of g.offsets) {
        const n = this.ctx.topics.get(o.topic)!.length;
        if (o.partition >= n) throw new TopicError(`topic '${o.topic}' has ${n} partition(s): there is no partition ${o.partition}`);
      }
    }
    if (this.transactionalId === undefined) return this.flushWithoutTransaction(records, groups);
    const plan = new ProducePlan(records, routed);
    return this.handle.run(async () => {
      this.assertUsable();
      const stats: CommitStats = { attempts: 0, producerReplacements: 0, concurrentTransactionRetries: 0 };
      this.lastCommitStats = stats;
      let result: TransactionResult;
      try {
        result = await commitTransaction(this.handle, plan, groups, stats);
      } catch (e) {
        if (e instanceof FencedError || isFenced(e)) throw this.markFenced(e);
        throw e;
      }
      await this.awaitOffsetsVisible(groups);
      return result;
    });
  }

  /**
   * The broker applies a transaction's offsets when its commit marker reaches the offsets topic,
   * a little after EndTxn answered; kafkajs' OffsetFetch cannot ask it to wait (KIP-447's
   * require_stable). Waiting here makes a commit's offsets readable once commit() returned, and
   * lets the markers land before this producer's next transaction (tulios/kafkajs#1315).
   */
  private async awaitOffsetsVisible(groups: GroupOffsets[]): Promise<void> {
    const admin = await this.ctx.adminClient();
    const deadline = Date.now() + 10_000;
    let wait = 2;
    for (const g of groups) {
      const want = new Map(g.offsets.map((o) => [`${o.topic}\u0000${o.partition}`, o.offset]));
      const topics = [...new Set(g.offsets.map((o) => o.topic))];
      for (;;) {
        const rows = await admin.fetchOffsets({ groupId: g.group.groupId, topics }).catch(() => []);
        let missing = 0;
        for (const row of rows) {
          for (const p of row.partitions) {
            const w = want.get(`${row.topic}\u0000${p.partition}`);
            if (w !== undefined && Number(p.offset) < w) missing++;
          }
        }
        if (missing === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 100);
      }
    }
  }

  /**
   * commit() of a producer without a transactional id: a plain flush, at least once. The records
   * are sent, then the offsets are committed as the consumer member the group metadata names
   * (OffsetCommit checks its generation), or with the admin client when it names no member.
   */
  private async flushWithoutTransaction(records: OutgoingRecord[], groups: GroupOffsets[]): Promise<TransactionResult> {
    const ends = new Map<string, OffsetCommit>();
    await this.sendRounds(records, (round, results) => ProducePlan.assignEnds(round, results, ends));
    for (const g of groups) await this.ctx.commitOffsetsOutsideTransaction(g.group, g.offsets);
    return { endOffsets: [...ends.values()] };
  }

  /** Drops an open transaction and disconnects. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.transaction?.drop();
    this.state = 'closed';
    this.ctx.resources.delete(this);
    this.internals.onClose?.(this);
    await this.handle.close();
  }
}
