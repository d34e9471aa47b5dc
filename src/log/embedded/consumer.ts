import { ClosedError, IllegalStateError, TopicError, TributaryError } from '../../errors/index.js';
import type {
  ConsumedRecord,
  ConsumerOptions,
  GroupMetadata,
  LogConsumer,
  OffsetCommit,
  RebalanceListener,
  TopicPartition,
} from '../types.js';
import { topicPartitionKey } from '../types.js';
import { AppendWaiter } from './append-waiter.js';
import type { LogContext } from './context.js';
import { joinGroup, leaveGroup } from './group-membership.js';
import { PartitionReader } from './partition-reader.js';
import type { TopicMeta } from './topics.js';

type Mode = 'none' | 'subscribed' | 'assigned';

/**
 * Reads the embedded log. subscribe() makes it the one member of its group (at the next poll):
 * it gets every partition of the subscribed topics, starting at the group's committed offsets.
 * assign() reads given partitions without any membership. Only committed data is ever read.
 */
export class EmbeddedConsumer implements LogConsumer {
  private readonly groupId: string | undefined;
  private readonly autoOffsetReset: 'earliest' | 'latest';
  private readonly maxPollRecords: number;
  private closed = false;
  private closing = false;
  private mode: Mode = 'none';
  private subscription: string[] = [];
  private listener: RebalanceListener | null = null;
  private joinPending = false;
  private member: { memberId: string; generation: number } | null = null;
  private readers: PartitionReader[] = [];
  private readonly byKey = new Map<string, PartitionReader>();
  private nextFirst = 0;
  private polling = false;
  private readonly waiter: AppendWaiter;
  private fetched: ConsumedRecord[] = [];
  private readonly fetchAll = (): void => this.fetchInto(this.fetched);

  constructor(
    private readonly ctx: LogContext,
    options: ConsumerOptions,
  ) {
    ctx.assertOpen();
    if (options.groupId !== undefined && (typeof options.groupId !== 'string' || options.groupId.length === 0)) {
      throw new TributaryError('groupId must be a non-empty string');
    }
    const max = options.maxPollRecords ?? 1000;
    if (!Number.isInteger(max) || max < 1) throw new TributaryError(`maxPollRecords must be a positive integer, got ${String(max)}`);
    this.groupId = options.groupId;
    this.autoOffsetReset = options.autoOffsetReset ?? 'earliest';
    this.maxPollRecords = max;
    this.waiter = new AppendWaiter(ctx);
    ctx.resources.add(this);
  }

  private assertOpen(): void {
    this.ctx.assertOpen();
    if (this.closed) throw new ClosedError('this consumer is closed');
  }

  private requireGroup(action: string): string {
    if (this.groupId === undefined) throw new IllegalStateError(`${action} needs a consumer with a groupId`);
    return this.groupId;
  }

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.assertOpen();
    this.requireGroup('subscribe()');
    if (this.mode === 'assigned') throw new IllegalStateError('this consumer uses assign(): it cannot also subscribe()');
    if (!Array.isArray(topics) || topics.length === 0) throw new TopicError('subscribe() needs at least one topic');
    this.subscription = [...new Set(topics)];
    this.listener = listener;
    this.mode = 'subscribed';
    this.joinPending = true;
  }

  assign(partitions: TopicPartition[]): void {
    this.assertOpen();
    if (this.mode === 'subscribed') throw new IllegalStateError('this consumer uses subscribe(): it cannot also assign()');
    const { ctx } = this;
    const readers = ctx.readTransaction(() =>
      partitions.map((tp) => {
        const existing = this.byKey.get(topicPartitionKey(tp.topic, tp.partition));
        if (existing !== undefined) return existing;
        const meta = ctx.topics.load(tp.topic);
        if (meta === undefined) throw ctx.topics.unknown(tp.topic);
        if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= meta.partitions) {
          throw new TopicError(`topic '${tp.topic}' has ${meta.partitions} partition(s): there is no partition ${tp.partition}`);
        }
        return new PartitionReader(meta.name, tp.partition, meta.id, this.initialPosition(meta, tp.partition));
      }),
    );
    this.setReaders(readers);
    this.mode = readers.length === 0 ? 'none' : 'assigned';
  }

  /** The group's committed offset when there is one in range, else per autoOffsetReset. Call inside a transaction. */
  private initialPosition(meta: TopicMeta, partition: number): number {
    const { stmts } = this.ctx;
    const offsets = stmts.partitionOffset.get(meta.id, partition);
    const low = offsets?.log_start_offset ?? 0;
    const high = offsets?.next_offset ?? 0;
    if (this.groupId !== undefined) {
      const committed = stmts.committedOne.get(this.groupId, meta.name, partition);
      if (committed !== undefined && committed >= low && committed <= high) return committed;
    }
    return this.autoOffsetReset === 'latest' ? high : low;
  }

  private setReaders(readers: PartitionReader[]): void {
    const unique: PartitionReader[] = [];
    this.byKey.clear();
    for (const r of readers) {
      const key = topicPartitionKey(r.topic, r.partition);
      if (this.byKey.has(key)) continue;
      this.byKey.set(key, r);
      unique.push(r);
    }
    this.readers = unique;
    this.nextFirst = 0;
  }

  /** Joins the group (or rejoins after a new subscribe()), then tells the listener what it got. */
  private async join(): Promise<void> {
    const groupId = this.groupId!;
    const listener = this.listener!;
    if (this.member !== null && this.readers.length > 0) {
      const revoked = this.assignment();
      this.setReaders([]);
      await listener.onRevoked(revoked);
    }
    const membership = joinGroup(this.ctx, groupId, this.subscription, this.member?.memberId ?? null);
    this.member = { memberId: membership.memberId, generation: membership.generation };
    this.joinPending = false;
    const readers = this.ctx.readTransaction(() => {
      const out: PartitionReader[] = [];
      for (const meta of membership.topics) {
        for (let p = 0; p < meta.partitions; p++) out.push(new PartitionReader(meta.name, p, meta.id, this.initialPosition(meta, p)));
      }
      return out;
    });
    this.setReaders(readers);
    await listener.onAssigned(this.assignment());
  }

  async poll(maxWaitMs: number): Promise<ConsumedRecord[]> {
    this.assertOpen();
    if (this.polling) throw new IllegalStateError('poll() is already running on this consumer');
    this.polling = true;
    try {
      if (this.joinPending) await this.join();
      const deadline = Date.now() + (maxWaitMs > 0 ? maxWaitMs : 0); // NaN or negative: no wait
      const { ctx } = this;
      for (;;) {
        if (this.closing || this.closed || ctx.isClosed) return [];
        const version = ctx.stmts.dataVersion.get()!;
        const records = this.fetch();
        if (records.length > 0 || Date.now() >= deadline) return records;
        await this.waiter.wait(version, deadline);
      }
    } finally {
      this.polling = false;
    }
  }

  /** Up to maxPollRecords records, in one read transaction. */
  private fetch(): ConsumedRecord[] {
    if (this.readers.length === 0) return [];
    this.fetched = [];
    this.ctx.readTransaction(this.fetchAll);
    const out = this.fetched;
    this.fetched = [];
    return out;
  }

  /**
   * Fair across partitions: each round gives every partition that still has records an equal
   * share of what is left; the partition served first rotates from poll to poll.
   */
  private fetchInto(out: ConsumedRecord[]): void {
    const { stmts } = this.ctx;
    const all = this.readers;
    const n = all.length;
    const active: PartitionReader[] = [];
    for (let i = 0; i < n; i++) {
      const r = all[(this.nextFirst + i) % n]!;
      if (!r.paused) active.push(r);
    }
    this.nextFirst = (this.nextFirst + 1) % n;
    let remaining = this.maxPollRecords;
    while (remaining > 0 && active.length > 0) {
      const quota = Math.max(1, Math.floor(remaining / active.length));
      let kept = 0;
      for (let i = 0; i < active.length && remaining > 0; i++) {
        const r = active[i]!;
        const want = Math.min(quota, remaining);
        const got = r.read(stmts, want, out);
        remaining -= got;
        if (got === want) active[kept++] = r;
      }
      active.length = kept;
    }
  }

  assignment(): TopicPartition[] {
    return this.readers.map((r) => ({ topic: r.topic, partition: r.partition }));
  }

  private reader(tp: TopicPartition, action: string): PartitionReader {
    const r = this.byKey.get(topicPartitionKey(tp.topic, tp.partition));
    if (r === undefined) throw new IllegalStateError(`cannot ${action} ${tp.topic}-${tp.partition}: it is not assigned to this consumer`);
    return r;
  }

  pause(partitions: TopicPartition[]): void {
    this.assertOpen();
    for (const tp of partitions) this.reader(tp, 'pause').paused = true;
  }

  resume(partitions: TopicPartition[]): void {
    this.assertOpen();
    for (const tp of partitions) this.reader(tp, 'resume').paused = false;
  }

  seek(partition: TopicPartition, offset: number): void {
    this.assertOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TributaryError(`cannot seek to offset ${String(offset)}: it must be a non-negative integer`);
    this.reader(partition, 'seek').seek(offset);
  }

  position(partition: TopicPartition): number {
    this.assertOpen();
    return this.reader(partition, 'get the position of').position;
  }

  async committed(partitions: TopicPartition[]): Promise<OffsetCommit[]> {
    this.assertOpen();
    const groupId = this.requireGroup('committed()');
    const { ctx } = this;
    return ctx.readTransaction(() => {
      const out: OffsetCommit[] = [];
      for (const tp of partitions) {
        const offset = ctx.stmts.committedOne.get(groupId, tp.topic, tp.partition);
        if (offset !== undefined) out.push({ topic: tp.topic, partition: tp.partition, offset });
      }
      return out;
    });
  }

  groupMetadata(): GroupMetadata {
    this.assertOpen();
    const groupId = this.requireGroup('groupMetadata()');
    return { groupId, generationId: this.member?.generation ?? -1, memberId: this.member?.memberId ?? '' };
  }

  /**
   * Revokes the assignment (listener.onRevoked, during which the consumer still answers
   * position() and groupMetadata(), so the listener can commit), leaves the group and closes.
   */
  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.waiter.cancel();
    try {
      if (this.member !== null && this.listener !== null && this.readers.length > 0 && !this.ctx.isClosed) {
        await this.listener.onRevoked(this.assignment());
      }
    } finally {
      this.closed = true;
      const member = this.member;
      this.member = null;
      this.setReaders([]);
      this.ctx.resources.delete(this);
      if (member !== null) leaveGroup(this.ctx, this.groupId!, member.memberId);
    }
  }
}
