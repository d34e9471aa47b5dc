import { type Consumer, type Message, ProduceAcks, Producer } from '@platformatic/kafka';
import { ClosedError, FencedError, IllegalStateError, StaleMemberError, TopicError, TributaryError } from '../../errors/index.js';
import { checkRecord } from '../kafka/record-codec.js';
import type { GroupMetadata, LogProducer, LogTransaction, OffsetCommit, OutgoingRecord, ProducerOptions, TransactionResult } from '../types.js';
import { topicPartitionKey } from '../types.js';
import type { PlatformaticContext } from './context.js';
import { hasApiError, isProducerFenced, isStaleMember, translateError } from './errors.js';
import { PartitionRouter, ProducePlan } from './produce-plan.js';

/** Offsets of one consumer group carried by a transaction. */
export interface GroupOffsets {
  group: GroupMetadata;
  offsets: OffsetCommit[];
}

export interface PlatformaticProducerInternals {
  /** Settles when an older producer with the same transactional id has registered it. */
  after?: Promise<unknown>;
  /** Told when this producer closes (the log's registry of transactional ids). */
  onClose?: (producer: PlatformaticProducer) => void;
  /** Commits a group's offsets outside a transaction (a non-transactional producer's commit()). */
  commitOutside?: (group: GroupMetadata, offsets: OffsetCommit[]) => Promise<void>;
}

/** Whole-transaction attempts (after CONCURRENT_TRANSACTIONS or replacing the client). */
const MAX_ATTEMPTS = 5;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Appends records through one @platformatic/kafka Producer: idempotent (acks=all), routed by
 * Kafka's default partitioner (produce-plan.ts), offsets returned per record. Calls are
 * serialized. With a `transactionalId` the producer registers the id with the broker as soon as
 * it is made (InitProducerId), which fences older producers with the id in any process; in this
 * log an older producer with the same id is also fenced at once.
 *
 * A transaction buffers in memory until commit(), which runs one Kafka transaction: produce,
 * AddOffsetsToTxn, one TxnOffsetCommit per partition carrying the group metadata given to
 * sendOffsets() (generation and member id: TxnOffsetCommit v3+, KIP-447, so the group
 * coordinator refuses a stale member), EndTxn.
 */
export class PlatformaticProducer implements LogProducer {
  private state: 'open' | 'fenced' | 'closed' = 'open';
  readonly transactionalId: string | undefined;
  private client: Producer;
  private readonly router = new PartitionRouter();
  private transaction: PlatformaticTransaction | null = null;
  private fencedReason: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private registration: Promise<void> | null = null;

  constructor(
    readonly ctx: PlatformaticContext,
    options: ProducerOptions = {},
    private readonly internals: PlatformaticProducerInternals = {},
  ) {
    ctx.assertOpen();
    const id = options.transactionalId;
    if (id !== undefined && (typeof id !== 'string' || id.length === 0)) throw new TributaryError('transactionalId must be a non-empty string');
    this.transactionalId = id;
    this.client = this.makeClient();
    ctx.resources.add(this);
    // register the transactional id now: that is what fences older producers on the broker
    if (id !== undefined) this.registered().catch(() => undefined);
  }

  private makeClient(): Producer {
    return new Producer({
      ...this.ctx.baseOptions('producer'),
      idempotent: true,
      acks: ProduceAcks.ALL,
      // InitProducerId as a new producer (-1/-1). The client's default is producer id 0 epoch 0,
      // which KIP-360 brokers read as "bump my epoch": PRODUCER_FENCED once another producer
      // (an older instance, a crashed one) has registered the transactional id.
      producerId: -1n,
      producerEpoch: -1,
      ...(this.transactionalId !== undefined ? { transactionalId: this.transactionalId } : {}),
    });
  }

  /** Runs `fn` after every earlier call of this producer finished. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** InitProducerId for the transactional id (a begun-and-cancelled transaction does exactly that). */
  private register(): Promise<void> {
    return this.run(async () => {
      await this.internals.after;
      this.assertUsable();
      const txn = await this.client.beginTransaction();
      await txn.cancel();
    });
  }

  /** Settles when the transactional id is registered (or registration failed). */
  registered(): Promise<void> {
    if (this.transactionalId === undefined) return Promise.resolve();
    this.registration ??= this.register().catch((e: unknown) => {
      this.registration = null;
      throw e;
    });
    return this.registration;
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

  /** Partition counts of these topics; a topic that does not exist is created (defaultPartitions). */
  private async partitionCounts(topics: Set<string>, create: boolean): Promise<void> {
    const unknown = [...topics].filter((t) => this.ctx.cachedPartitions(t) === undefined);
    if (unknown.length === 0) return;
    if (create) {
      const all = await this.ctx.allNames();
      const missing = unknown.filter((t) => !all.has(t));
      for (const t of missing) {
        try {
          await this.ctx.adminClient().createTopics({ topics: [t], partitions: this.ctx.defaultPartitions, replicas: this.ctx.replicationFactor });
        } catch (e) {
          if (!hasApiError(e, 'TOPIC_ALREADY_EXISTS')) throw translateError(e, `create topic '${t}'`);
        }
      }
      const deadline = Date.now() + 30_000;
      while (missing.length > 0 && Date.now() < deadline) {
        const names = await this.ctx.allNames();
        if (missing.every((t) => names.has(t))) break;
        await sleep(50);
      }
    }
    await this.ctx.loadPartitionCounts(unknown);
  }

  private async plan(records: readonly OutgoingRecord[], routed?: Int32Array): Promise<ProducePlan> {
    const partitions = routed ?? new Int32Array(records.length).fill(-1);
    const topics = new Set<string>();
    for (let i = 0; i < records.length; i++) if (partitions[i]! < 0) topics.add(records[i]!.topic);
    await this.partitionCounts(topics, true);
    for (let i = 0; i < records.length; i++) {
      if (partitions[i]! < 0) partitions[i] = this.router.route(records[i]!, this.ctx.cachedPartitions(records[i]!.topic)!);
    }
    return new ProducePlan(records, partitions);
  }

  async ready(): Promise<void> {
    this.assertUsable();
    if (this.transactionalId === undefined) return;
    try {
      await this.registered();
    } catch (e) {
      if (isProducerFenced(e)) throw this.markFenced(e);
      throw translateError(e, `register producer '${this.transactionalId}' with Kafka`, this.transactionalId);
    }
    this.assertUsable();
  }

  async send(records: OutgoingRecord[]): Promise<OffsetCommit[]> {
    this.assertUsable();
    if (records.length === 0) return [];
    for (const r of records) {
      if (typeof r.topic !== 'string' || r.topic.length === 0) throw new TopicError('a record has no topic');
      checkRecord(r, r.topic);
    }
    const plan = await this.plan(records);
    return this.run(async () => {
      this.assertUsable();
      const out = new Array<OffsetCommit>(records.length);
      try {
        for (const round of plan.rounds) {
          const result = await this.client.send({ messages: round.messages, acks: ProduceAcks.ALL });
          ProducePlan.assignOffsets(round, result.offsets, out);
        }
        return out;
      } catch (e) {
        if (isProducerFenced(e) && this.transactionalId !== undefined) throw this.markFenced(e);
        for (const t of new Set(records.map((r) => r.topic))) this.ctx.forget(t);
        throw translateError(e, `send ${records.length} record(s) to Kafka`);
      }
    });
  }

  beginTransaction(): LogTransaction {
    this.assertUsable();
    if (this.transaction !== null) throw new IllegalStateError('this producer already has an open transaction: commit or abort it first');
    const txn = new PlatformaticTransaction(this);
    this.transaction = txn;
    return txn;
  }

  transactionEnded(txn: PlatformaticTransaction): void {
    if (this.transaction === txn) this.transaction = null;
  }

  /** Routes a record now when its topic's partition count is known; -1 when not (routed at commit). */
  routeNow(record: OutgoingRecord): number {
    checkRecord(record, record.topic);
    const n = this.ctx.cachedPartitions(record.topic);
    return n === undefined ? -1 : this.router.route(record, n);
  }

  /** A fresh client: its InitProducerId bumps the epoch, which aborts what the old one left open. */
  private async replaceClient(): Promise<void> {
    const old = this.client;
    this.client = this.makeClient();
    await old.close(true).catch(() => undefined);
  }

  /** Commits a transaction's buffered records and offsets as one Kafka transaction. */
  async commitBuffered(records: OutgoingRecord[], routed: Int32Array, groups: GroupOffsets[]): Promise<TransactionResult> {
    this.assertUsable();
    if (records.length === 0 && groups.length === 0) return { endOffsets: [] };
    const plan = await this.plan(records, routed);
    await this.partitionCounts(new Set(groups.flatMap((g) => g.offsets.map((o) => o.topic))), false);
    for (const g of groups) {
      for (const o of g.offsets) {
        const n = this.ctx.cachedPartitions(o.topic)!;
        if (o.partition >= n) throw new TopicError(`topic '${o.topic}' has ${n} partition(s): there is no partition ${o.partition}`);
      }
    }
    if (this.transactionalId === undefined) return this.flushWithoutTransaction(records, groups);
    return this.run(() => this.commitNow(plan, records.length, groups));
  }

  private async commitNow(plan: ProducePlan, recordCount: number, groups: GroupOffsets[]): Promise<TransactionResult> {
    const id = this.transactionalId!;
    const what = `commit a transaction of producer '${id}'`;
    const coordinators = new Map<string, number>();
    for (const g of groups) coordinators.set(g.group.groupId, await this.ctx.groupCoordinator(g.group.groupId));
    for (let attempt = 1; ; attempt++) {
      this.assertUsable();
      let txn: Awaited<ReturnType<Producer['beginTransaction']>>;
      try {
        txn = await this.client.beginTransaction();
      } catch (e) {
        if (isProducerFenced(e)) throw this.markFenced(e);
        if (attempt < MAX_ATTEMPTS) {
          await this.replaceClient();
          continue;
        }
        throw translateError(e, what, id);
      }
      let ending = false;
      try {
        const offsets = new Array<OffsetCommit>(recordCount);
        for (const round of plan.rounds) {
          const result = await txn.send({ messages: round.messages });
          ProducePlan.assignOffsets(round, result.offsets, offsets);
        }
        for (const g of groups) {
          const { groupId, generationId, memberId } = g.group;
          await txn.addConsumer({ groupId } as unknown as Consumer);
          const consumer = { groupId, generationId, memberId, coordinatorId: coordinators.get(groupId)! };
          // one TxnOffsetCommit per partition; the client commits `offset + 1`
          for (const o of g.offsets) {
            await txn.addOffset({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset) - 1n, metadata: { consumer } } as unknown as Message);
          }
        }
        ending = true;
        await txn.commit();
        return { endOffsets: ProducePlan.endOffsets(offsets) };
      } catch (e) {
        if (isProducerFenced(e)) {
          await txn.cancel().catch(() => undefined);
          throw this.markFenced(e);
        }
        if (ending) {
          // EndTxn failed: the outcome is unknown unless the broker said CONCURRENT_TRANSACTIONS
          await this.replaceClient();
          if (hasApiError(e, 'CONCURRENT_TRANSACTIONS') && attempt < MAX_ATTEMPTS) continue;
          throw new TributaryError(
            `${what}: ending the transaction failed, so it may or may not have committed; restart from the committed offsets ` +
              `(${translateError(e, 'end it', id).message})`,
            { cause: e, retriable: true },
          );
        }
        // nothing is visible yet: abort, or replace the client when the abort fails too
        try {
          await txn.abort();
        } catch (abortError) {
          if (isProducerFenced(abortError)) throw this.markFenced(abortError);
          await txn.cancel().catch(() => undefined);
          await this.replaceClient();
        }
        if (isStaleMember(e)) {
          for (const g of groups) this.ctx.groupCoordinator(g.group.groupId, true).catch(() => undefined);
          throw new StaleMemberError(
            `${what}: the consumer-group member whose offsets it carries is no longer current ` +
              `(${groups.map((g) => `group '${g.group.groupId}' generation ${g.group.generationId} member '${g.group.memberId}'`).join(', ')}); ` +
              `nothing of the transaction was written`,
            { cause: e },
          );
        }
        if (hasApiError(e, 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE') && attempt < MAX_ATTEMPTS) {
          for (const g of groups) coordinators.set(g.group.groupId, await this.ctx.groupCoordinator(g.group.groupId, true));
          continue;
        }
        // A broker that restarted can have lost this producer's sequence numbers: retrying with the
        // same client fails the same way, a new one (InitProducerId: new epoch) starts them over.
        const lostSequence = hasApiError(e, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID');
        if ((lostSequence || hasApiError(e, 'CONCURRENT_TRANSACTIONS')) && attempt < MAX_ATTEMPTS) {
          if (lostSequence) await this.replaceClient();
          await sleep(20 * 2 ** attempt);
          continue;
        }
        if (lostSequence) {
          // nothing of it is visible (aborted above): the runtime redoes the work from its last commit
          throw new TributaryError(`${translateError(e, what, id).message} (${MAX_ATTEMPTS} attempts, each with a new producer id)`, { cause: e, retriable: true });
        }
        throw translateError(e, what, id);
      }
    }
  }

  /**
   * commit() of a producer without a transactional id: a plain flush, at least once. The records
   * are sent, then the offsets are committed as the consumer member the group metadata names
   * (OffsetCommit checks its generation), or with the admin client when it names no member.
   */
  private async flushWithoutTransaction(records: OutgoingRecord[], groups: GroupOffsets[]): Promise<TransactionResult> {
    const offsets = records.length > 0 ? await this.send(records) : [];
    for (const g of groups) {
      if (g.offsets.length === 0) continue;
      if (this.internals.commitOutside === undefined) throw new IllegalStateError('no offset committer');
      await this.internals.commitOutside(g.group, g.offsets);
    }
    return { endOffsets: ProducePlan.endOffsets(offsets) };
  }

  /** Drops an open transaction and disconnects. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.transaction?.drop();
    this.state = 'closed';
    this.ctx.resources.delete(this);
    this.internals.onClose?.(this);
    await this.queue;
    await this.client.close(true).catch(() => undefined);
  }
}

type TransactionState = 'open' | 'committing' | 'committed' | 'aborted';

/**
 * A transaction: send() and sendOffsets() only buffer (records are checked and routed at once
 * when their topic's partition count is known, else at commit); commit() runs one Kafka
 * transaction with all of it.
 */
export class PlatformaticTransaction implements LogTransaction {
  private state: TransactionState = 'open';
  private records: OutgoingRecord[] = [];
  private routed: number[] = [];
  private readonly groups = new Map<string, { group: GroupMetadata; offsets: Map<string, OffsetCommit> }>();

  constructor(private readonly host: PlatformaticProducer) {}

  private assertOpen(action: string): void {
    this.host.assertUsable();
    if (this.state !== 'open') throw new IllegalStateError(`cannot ${action} a transaction that is ${this.state}`);
  }

  send(records: readonly OutgoingRecord[]): void {
    this.assertOpen('send to');
    const routed = records.map((r) => {
      if (typeof r.topic !== 'string' || r.topic.length === 0) throw new TopicError('a record has no topic');
      return this.host.routeNow(r);
    });
    for (let i = 0; i < records.length; i++) {
      this.records.push(records[i]!);
      this.routed.push(routed[i]!);
    }
  }

  sendOffsets(group: GroupMetadata, offsets: readonly OffsetCommit[]): void {
    this.assertOpen('send offsets to');
    for (const o of offsets) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new TopicError(`offset for ${o.topic}-${o.partition} must be a non-negative integer, got ${String(o.offset)}`);
      }
      if (!Number.isInteger(o.partition) || o.partition < 0) throw new TopicError(`topic '${o.topic}' has no partition ${o.partition}`);
    }
    let entry = this.groups.get(group.groupId);
    if (entry === undefined) this.groups.set(group.groupId, (entry = { group, offsets: new Map() }));
    entry.group = { groupId: group.groupId, generationId: group.generationId, memberId: group.memberId };
    for (const o of offsets) entry.offsets.set(topicPartitionKey(o.topic, o.partition), { topic: o.topic, partition: o.partition, offset: o.offset });
  }

  async commit(): Promise<TransactionResult> {
    this.assertOpen('commit');
    this.state = 'committing';
    const groups: GroupOffsets[] = [...this.groups.values()].map((g) => ({ group: g.group, offsets: [...g.offsets.values()] }));
    try {
      const result = await this.host.commitBuffered(this.records, Int32Array.from(this.routed), groups);
      this.state = 'committed';
      return result;
    } catch (e) {
      this.state = 'aborted';
      throw e;
    } finally {
      this.records = [];
      this.routed = [];
      this.groups.clear();
      this.host.transactionEnded(this);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') throw new IllegalStateError(`cannot abort a transaction that is ${this.state}`);
    this.drop();
  }

  drop(): void {
    this.state = 'aborted';
    this.records = [];
    this.routed = [];
    this.groups.clear();
    this.host.transactionEnded(this);
  }
}
