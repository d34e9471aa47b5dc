import { randomUUID } from 'node:crypto';
import { Consumer, type ConsumerGroupJoinPayload, FetchIsolationLevels, type GroupAssignment } from '@platformatic/kafka';
import { ClosedError, FencedError, IllegalStateError, StaleMemberError, TopicError, TributaryError } from '../../errors/index.js';
import { PartitionState } from '../kafka/partition-state.js';
import { Signal } from '../kafka/signal.js';
import type { ConsumedRecord, ConsumerOptions, GroupMetadata, Headers, LogConsumer, OffsetCommit, PartitionGrouping, RebalanceListener, TopicPartition } from '../types.js';
import { topicPartitionKey } from '../types.js';
import type { PlatformaticAdmin } from './admin.js';
import type { PlatformaticContext } from './context.js';
import { hasApiError, isStaleMember, translateError } from './errors.js';
import { groupingOptions } from './grouping-assigner.js';

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;
type FetchRequestTopic = Parameters<Consumer['fetch']>[0]['topics'][number];

type Mode = 'none' | 'subscribed' | 'assigned';

interface JoinSnapshot {
  version: number;
  generationId: number;
  memberId: string;
  keys: Map<string, TopicPartition>;
}

/** Record batch attributes (Kafka's DefaultRecordBatch). */
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/** The broker holds a fetch at most this long, so a rebalance or close() is seen soon. */
const MAX_FETCH_WAIT_MS = 500;

function toHeaders(raw: [Buffer | null, Buffer | null][]): Headers {
  const out: Headers = {};
  for (const [k, v] of raw) {
    if (k === null) continue;
    out[k.toString('utf8')] = v ?? Buffer.alloc(0); // a repeated name: the last wins, as on the embedded log
  }
  return out;
}

/**
 * A poll()-style consumer over @platformatic/kafka's low-level `Consumer.fetch()`: no background
 * stream, poll() itself sends one Fetch per leader (incremental fetch sessions, KIP-227, are the
 * client's) for the assigned, non-paused partitions whose buffer is empty, waits up to maxWaitMs,
 * and returns up to maxPollRecords, fairly across partitions. Positions are this consumer's own;
 * seek() only moves them. Control batches are skipped, and with read_committed the records of
 * aborted transactions are dropped with the broker's aborted-transaction index, statefully per
 * response as the Java client does (the client's own filter keeps a range whose abort marker is
 * not in the same response).
 *
 * Group membership is the client's (classic protocol: JoinGroup, SyncGroup, heartbeats, rejoin on
 * REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION). It rebalances eagerly and has no revoke callback:
 * when a rebalance starts, poll() stops returning records; when the new assignment arrives, the
 * next poll() calls onRevoked with the partitions lost (their buffered records are dropped), then
 * onAssigned with those gained. With `grouping`, the leader assigns by unit (grouping-assigner.ts).
 *
 * assign(): no group membership; positions come from `groupId`'s committed offsets when it has
 * one, else autoOffsetReset.
 */
export class PlatformaticConsumer implements LogConsumer {
  private readonly groupId: string | undefined;
  private readonly autoOffsetReset: 'earliest' | 'latest';
  private readonly maxPollRecords: number;
  private readonly isolationLevel: number;
  private readonly grouping: PartitionGrouping | undefined;
  private mode: Mode = 'none';
  private subscription: string[] = [];
  private listener: RebalanceListener | null = null;
  private readonly owned = new Map<string, PartitionState>();
  private order: PartitionState[] = [];
  private nextFirst = 0;

  private client: Consumer | null = null;
  private joining: Promise<unknown> | null = null;
  private rebalancing = false;
  private latestJoin: JoinSnapshot | null = null;
  private processedJoin = 0;
  private generationId = -1;
  private memberId = '';
  private everJoined = false;
  private toAnnounce: PartitionState[] | null = null;
  private crashed: unknown = null;

  private polling = false;
  private closing = false;
  private closed = false;
  private readonly signal = new Signal();

  constructor(
    private readonly ctx: PlatformaticContext,
    private readonly admin: PlatformaticAdmin,
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
    this.isolationLevel = options.isolationLevel === 'read_uncommitted' ? FetchIsolationLevels.READ_UNCOMMITTED : FetchIsolationLevels.READ_COMMITTED;
    this.grouping = options.grouping;
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

  // ---------------------------------------------------------------- the client

  private ensureClient(): Consumer {
    if (this.client !== null) return this.client;
    const tuning = this.ctx.consumerTuning;
    const client = new Consumer({
      ...this.ctx.baseOptions('consumer'),
      // assign() never joins: the client still wants a group id
      groupId: this.mode === 'subscribed' ? this.groupId! : `${this.groupId ?? 'tributary'}-assign-${randomUUID()}`,
      autocommit: false,
      sessionTimeout: tuning.sessionTimeoutMs,
      heartbeatInterval: tuning.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(tuning.rebalanceTimeoutMs, tuning.sessionTimeoutMs),
      maxWaitTime: tuning.fetchMaxWaitMs,
      maxBytesPerPartition: tuning.maxBytesPerPartition,
      isolationLevel: this.isolationLevel,
      minBytes: 1,
    });
    client.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => {
      if (this.client === client) this.onGroupJoin(payload);
    });
    client.on('consumer:group:rebalance', () => {
      if (this.client !== client) return;
      this.rebalancing = true;
      this.signal.notify();
    });
    // a failed rejoin (after the client's retries): membership is lost
    client.on('error', (e: unknown) => {
      if (this.client !== client || this.closing) return;
      this.crashed = e;
      this.signal.notify();
    });
    this.client = client;
    return client;
  }

  private onGroupJoin(payload: ConsumerGroupJoinPayload): void {
    const keys = new Map<string, TopicPartition>();
    for (const a of (payload.assignments ?? []) as GroupAssignment[]) {
      for (const partition of a.partitions) keys.set(topicPartitionKey(a.topic, partition), { topic: a.topic, partition });
    }
    this.rebalancing = false;
    this.latestJoin = {
      version: (this.latestJoin?.version ?? 0) + 1,
      generationId: payload.generationId ?? -1,
      memberId: payload.memberId,
      keys,
    };
    this.signal.notify();
  }

  /** The first poll() after subscribe() joins the group, however short its wait. */
  private async ensureJoined(): Promise<void> {
    if (this.everJoined && this.latestJoin !== null) return;
    const client = this.ensureClient();
    if (this.joining === null) {
      client.topics.trackAll(...this.subscription);
      const group = this.grouping !== undefined ? groupingOptions(this.grouping) : {};
      this.joining = client.joinGroup(group);
    }
    try {
      await this.joining;
    } catch (e) {
      this.joining = null;
      if (this.closing || this.closed) return;
      throw translateError(e, `join consumer group '${this.groupId}'`);
    }
  }

  // ---------------------------------------------------------------- the Log port

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.assertOpen();
    this.requireGroup('subscribe()');
    if (this.mode === 'assigned') throw new IllegalStateError('this consumer uses assign(): it cannot also subscribe()');
    if (this.mode === 'subscribed') throw new IllegalStateError('this consumer has subscribed already');
    if (!Array.isArray(topics) || topics.length === 0) throw new TopicError('subscribe() needs at least one topic');
    const unique = [...new Set(topics)];
    await this.ctx.requireExisting(unique);
    this.subscription = unique;
    this.listener = listener;
    this.mode = 'subscribed';
  }

  assign(partitions: TopicPartition[]): void {
    this.assertOpen();
    if (this.mode === 'subscribed') throw new IllegalStateError('this consumer uses subscribe(): it cannot also assign()');
    const next = new Map<string, PartitionState>();
    for (const tp of partitions) {
      if (typeof tp.topic !== 'string' || tp.topic.length === 0) throw new TopicError('assign() got a partition without a topic');
      if (!Number.isInteger(tp.partition) || tp.partition < 0) throw new TopicError(`topic '${tp.topic}' has no partition ${tp.partition}`);
      const cached = this.ctx.cachedPartitions(tp.topic);
      if (cached !== undefined && tp.partition >= cached) {
        throw new TopicError(`topic '${tp.topic}' has ${cached} partition(s): there is no partition ${tp.partition}`);
      }
      const key = topicPartitionKey(tp.topic, tp.partition);
      next.set(key, this.owned.get(key) ?? next.get(key) ?? new PartitionState(tp.topic, tp.partition, key));
    }
    this.owned.clear();
    for (const [k, st] of next) this.owned.set(k, st);
    this.order = [...next.values()];
    this.nextFirst = 0;
    this.mode = next.size === 0 ? 'none' : 'assigned';
    this.signal.notify();
  }

  async poll(maxWaitMs: number): Promise<ConsumedRecord[]> {
    this.assertOpen();
    if (this.polling) throw new IllegalStateError('poll() is already running on this consumer');
    this.polling = true;
    try {
      const deadline = Date.now() + (maxWaitMs > 0 ? maxWaitMs : 0);
      if (this.mode === 'subscribed') await this.ensureJoined();
      let fetched = false;
      for (;;) {
        if (this.closing || this.closed || this.ctx.isClosed) return [];
        this.throwIfCrashed();
        await this.handleGroupChange();
        await this.initializePending();
        await this.announceAssigned();
        if (this.closing || this.closed) return [];
        if (!this.rebalancing) {
          const records = this.drain();
          if (records.length > 0) return records;
        }
        if (fetched && Date.now() >= deadline) return [];
        if (this.rebalancing || this.mode === 'none') {
          await this.signal.wait(Math.min(deadline, Date.now() + 100));
        } else {
          await this.fetchOnce(deadline);
        }
        fetched = true;
      }
    } finally {
      this.polling = false;
    }
  }

  private throwIfCrashed(): void {
    if (this.crashed === null) return;
    throw translateError(this.crashed, `stay in consumer group '${this.groupId}' (the client could not rejoin)`);
  }

  /** Tells the listener what the last join took away and gave. */
  private async handleGroupChange(): Promise<void> {
    while (this.mode === 'subscribed' && this.latestJoin !== null && this.latestJoin.version !== this.processedJoin) {
      const join = this.latestJoin;
      // a new member id: this one was dropped from the group and joined again, so nothing it had
      // is kept (another member may have moved its partitions on meanwhile)
      const lost = this.everJoined && this.memberId !== '' && join.memberId !== this.memberId;
      const revoked = [...this.owned.values()].filter((st) => lost || !join.keys.has(st.key));
      if (revoked.length > 0) {
        for (const st of revoked) st.revoking = true;
        try {
          const tps = revoked.map((st) => st.tp);
          if (lost && this.listener!.onLost !== undefined) await this.listener!.onLost(tps);
          else await this.listener!.onRevoked(tps);
        } finally {
          for (const st of revoked) this.owned.delete(st.key);
          this.order = [...this.owned.values()];
        }
      }
      this.generationId = join.generationId;
      this.memberId = join.memberId;
      this.processedJoin = join.version;
      const added: PartitionState[] = [];
      for (const [key, tp] of join.keys) {
        if (this.owned.has(key)) continue;
        const st = new PartitionState(tp.topic, tp.partition, key);
        this.owned.set(key, st);
        added.push(st);
      }
      this.order = [...this.owned.values()];
      if (added.length > 0 || !this.everJoined) this.toAnnounce = [...(this.toAnnounce ?? []), ...added];
      this.everJoined = true;
    }
  }

  private async announceAssigned(): Promise<void> {
    const list = this.toAnnounce;
    if (list === null || this.listener === null) return;
    this.toAnnounce = null;
    await this.listener.onAssigned(list.filter((st) => this.owned.get(st.key) === st).map((st) => st.tp));
  }

  /**
   * Start positions of owned partitions that have none: a pending seek; else the group's
   * committed offset when it lies within the partition; else autoOffsetReset.
   */
  private async initializePending(): Promise<void> {
    const pending = this.order.filter((st) => !st.initialized);
    if (pending.length === 0) return;
    const need = pending.filter((st) => st.pendingSeek === null);
    const start = new Map<PartitionState, number>();
    if (need.length > 0) {
      const topics = [...new Set(need.map((s) => s.topic))];
      const committed = new Map<string, number>();
      if (this.groupId !== undefined) {
        for (const o of await this.admin.committedOffsets(this.groupId, topics)) committed.set(topicPartitionKey(o.topic, o.partition), o.offset);
      }
      for (const topic of topics) {
        const states = need.filter((s) => s.topic === topic);
        const bounds = await this.admin.bounds(topic, states.map((s) => s.partition));
        for (const s of states) {
          const b = bounds.find((x) => x.partition === s.partition);
          if (b === undefined) throw new TopicError(`topic '${s.topic}' has no partition ${s.partition}`);
          const c = committed.get(s.key);
          start.set(s, c !== undefined && c >= b.low && c <= b.high ? c : this.autoOffsetReset === 'latest' ? b.high : b.low);
        }
      }
    }
    for (const st of pending) {
      if (this.owned.get(st.key) !== st || st.initialized) continue;
      const position = st.pendingSeek ?? start.get(st);
      if (position === undefined) continue;
      st.seek(position);
      st.pendingSeek = null;
      st.initialized = true;
    }
  }

  /** One Fetch per leader for the partitions ready to be fetched; buffers what comes back. */
  private async fetchOnce(deadline: number): Promise<void> {
    const ready = this.order.filter((st) => st.initialized && !st.userPaused && !st.revoking && st.buffered === 0);
    if (ready.length === 0) {
      await this.signal.wait(Math.min(deadline, Date.now() + 100));
      return;
    }
    const client = this.ensureClient();
    const topics = [...new Set(ready.map((st) => st.topic))];
    let metadata;
    try {
      client.topics.trackAll(...topics.filter((t) => !client.topics.has(t)));
      metadata = await client.metadata({ topics });
    } catch (e) {
      if (this.closing || this.closed) return;
      throw translateError(e, `read the metadata of ${topics.map((t) => `'${t}'`).join(', ')}`);
    }
    const names = new Map<string, string>();
    const byNode = new Map<number, Map<string, FetchRequestTopic>>();
    const requested = new Map<string, number>();
    const maxBytes = this.ctx.consumerTuning.maxBytesPerPartition;
    for (const st of ready) {
      const topic = metadata.topics.get(st.topic);
      const partition = topic?.partitions[st.partition];
      if (topic === undefined || partition === undefined) throw new TopicError(`topic '${st.topic}' has no partition ${st.partition}`);
      names.set(topic.id, st.topic);
      let perTopic = byNode.get(partition.leader);
      if (perTopic === undefined) byNode.set(partition.leader, (perTopic = new Map()));
      let req = perTopic.get(topic.id);
      if (req === undefined) perTopic.set(topic.id, (req = { topicId: topic.id, partitions: [] }));
      req.partitions.push({ partition: st.partition, fetchOffset: BigInt(st.fetchPosition), partitionMaxBytes: maxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 });
      requested.set(st.key, st.fetchPosition);
    }
    const wait = Math.max(0, Math.min(deadline - Date.now(), MAX_FETCH_WAIT_MS));
    await Promise.all(
      [...byNode].map(async ([node, perTopic]) => {
        let response: FetchResponse;
        try {
          response = await client.fetch({ node, topics: [...perTopic.values()], maxWaitTime: wait, isolationLevel: this.isolationLevel });
        } catch (e) {
          if (this.closing || this.closed) return;
          if (hasApiError(e, 'OFFSET_OUT_OF_RANGE')) {
            this.resetOutOfRange((e as { response?: FetchResponse }).response, names, requested);
            return;
          }
          throw translateError(e, `fetch from Kafka node ${node}`);
        }
        this.buffer(response, names, requested);
      }),
    );
    this.signal.notify();
  }

  /** Partitions whose position fell out of the log start again per autoOffsetReset. */
  private resetOutOfRange(response: FetchResponse | undefined, names: Map<string, string>, requested: Map<string, number>): void {
    for (const t of response?.responses ?? []) {
      const topic = names.get(t.topicId) ?? t.topicId;
      for (const p of t.partitions) {
        const st = this.owned.get(topicPartitionKey(topic, p.partitionIndex));
        if (st === undefined || requested.get(st.key) !== st.fetchPosition) continue;
        if (p.errorCode === 0) continue;
        st.initialized = false;
        st.seek(-1);
      }
    }
  }

  /** Buffers one fetch response: skips control batches and, with read_committed, aborted data. */
  private buffer(response: FetchResponse, names: Map<string, string>, requested: Map<string, number>): void {
    const readCommitted = this.isolationLevel === FetchIsolationLevels.READ_COMMITTED;
    for (const t of response.responses) {
      const topic = names.get(t.topicId) ?? t.topicId;
      for (const p of t.partitions) {
        const st = this.owned.get(topicPartitionKey(topic, p.partitionIndex));
        // revoked, sought or not asked for meanwhile: the data is stale
        if (st === undefined || !st.initialized || st.revoking || requested.get(st.key) !== st.fetchPosition) continue;
        const batches = p.records;
        if (batches == null || batches.length === 0) continue;
        const aborted = readCommitted ? [...(p.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0)) : [];
        const abortedProducers = new Set<bigint>();
        let next = 0;
        for (const batch of batches) {
          const first = Number(batch.firstOffset);
          const last = first + batch.lastOffsetDelta;
          if (last < st.fetchPosition) continue;
          const control = (batch.attributes & CONTROL) !== 0;
          if (readCommitted && batch.producerId >= 0n) {
            while (next < aborted.length && aborted[next]!.firstOffset <= BigInt(last)) abortedProducers.add(aborted[next++]!.producerId);
            if (control) {
              // an abort marker (control type 0) ends the producer's aborted transaction
              const key = batch.records[0]?.key;
              if (key != null && key.length >= 4 && key.readInt16BE(2) === 0) abortedProducers.delete(batch.producerId);
            } else if ((batch.attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId)) {
              st.fetchPosition = last + 1;
              continue;
            }
          }
          if (!control) {
            const logAppendTime = (batch.attributes & LOG_APPEND_TIME) !== 0;
            for (const r of batch.records) {
              const offset = first + r.offsetDelta;
              if (offset < st.fetchPosition) continue;
              st.push({
                topic,
                partition: p.partitionIndex,
                offset,
                key: r.key ?? null,
                value: r.value ?? null,
                timestamp: Number(logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + r.timestampDelta),
                headers: toHeaders(r.headers),
              });
            }
          }
          st.fetchPosition = last + 1;
        }
      }
    }
  }

  /** Up to maxPollRecords buffered records, shared fairly between the partitions that have some. */
  private drain(): ConsumedRecord[] {
    const out: ConsumedRecord[] = [];
    const all = this.order;
    const n = all.length;
    if (n === 0) return out;
    const active: PartitionState[] = [];
    for (let i = 0; i < n; i++) {
      const st = all[(this.nextFirst + i) % n]!;
      if (st.initialized && !st.userPaused && !st.revoking && st.buffered > 0) active.push(st);
    }
    this.nextFirst = (this.nextFirst + 1) % n;
    let remaining = this.maxPollRecords;
    while (remaining > 0 && active.length > 0) {
      const quota = Math.max(1, Math.floor(remaining / active.length));
      let kept = 0;
      for (let i = 0; i < active.length && remaining > 0; i++) {
        const st = active[i]!;
        const want = Math.min(quota, remaining);
        const got = st.take(want, out);
        remaining -= got;
        if (got === want && st.buffered > 0) active[kept++] = st;
      }
      active.length = kept;
    }
    return out;
  }

  assignment(): TopicPartition[] {
    return this.order.filter((st) => !st.revoking || this.closing).map((st) => st.tp);
  }

  private state(tp: TopicPartition, action: string): PartitionState {
    const st = this.owned.get(topicPartitionKey(tp.topic, tp.partition));
    if (st === undefined) throw new IllegalStateError(`cannot ${action} ${tp.topic}-${tp.partition}: it is not assigned to this consumer`);
    return st;
  }

  pause(partitions: TopicPartition[]): void {
    this.assertOpen();
    const states = partitions.map((tp) => this.state(tp, 'pause'));
    for (const st of states) st.userPaused = true;
  }

  resume(partitions: TopicPartition[]): void {
    this.assertOpen();
    const states = partitions.map((tp) => this.state(tp, 'resume'));
    for (const st of states) st.userPaused = false;
    this.signal.notify();
  }

  seek(partition: TopicPartition, offset: number): void {
    this.assertOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TributaryError(`cannot seek to offset ${String(offset)}: it must be a non-negative integer`);
    const st = this.state(partition, 'seek');
    if (!st.initialized) {
      st.pendingSeek = offset;
      return;
    }
    st.seek(offset);
  }

  position(partition: TopicPartition): number {
    this.assertOpen();
    const st = this.state(partition, 'get the position of');
    if (st.initialized) return st.position;
    if (st.pendingSeek !== null) return st.pendingSeek;
    throw new IllegalStateError(`the position of ${partition.topic}-${partition.partition} is not known yet: call poll() first`);
  }

  async committed(partitions: TopicPartition[]): Promise<OffsetCommit[]> {
    this.assertOpen();
    const groupId = this.requireGroup('committed()');
    const topics = [...new Set(partitions.map((tp) => tp.topic))];
    const all = await this.admin.committedOffsets(groupId, topics);
    const wanted = new Set(partitions.map((tp) => topicPartitionKey(tp.topic, tp.partition)));
    return all.filter((o) => wanted.has(topicPartitionKey(o.topic, o.partition)));
  }

  groupMetadata(): GroupMetadata {
    this.assertOpen();
    const groupId = this.requireGroup('groupMetadata()');
    if (this.mode !== 'subscribed') return { groupId, generationId: -1, memberId: '' };
    return { groupId, generationId: this.generationId, memberId: this.memberId };
  }

  /** Whether this consumer is the live member `meta` describes. */
  isMember(meta: GroupMetadata): boolean {
    return this.mode === 'subscribed' && this.groupId === meta.groupId && this.memberId === meta.memberId && meta.memberId !== '';
  }

  /**
   * Commits offsets as this member, outside any transaction (OffsetCommit with the group
   * generation: a stale member gets FencedError). For a non-transactional producer's commit().
   */
  async commitAsMember(meta: GroupMetadata, offsets: OffsetCommit[]): Promise<void> {
    this.assertOpen();
    const client = this.client;
    if (client === null || this.mode !== 'subscribed' || meta.memberId !== client.memberId || meta.generationId !== client.generationId || this.rebalancing) {
      throw new StaleMemberError(
        `cannot commit offsets of group '${meta.groupId}' as member '${meta.memberId}' of generation ${meta.generationId}: ` +
          `the group has moved on (current generation ${client?.generationId ?? -1})`,
      );
    }
    try {
      await client.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
    } catch (e) {
      if (isStaleMember(e) || hasApiError(e, 'REBALANCE_IN_PROGRESS')) {
        throw new StaleMemberError(`cannot commit offsets of group '${meta.groupId}': this member is no longer current`, { cause: e });
      }
      throw translateError(e, `commit offsets of group '${meta.groupId}'`);
    }
  }

  /** Revokes the assignment (listener.onRevoked), leaves the group and closes. */
  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.signal.notify();
    try {
      if (this.mode === 'subscribed' && this.listener !== null && this.everJoined && this.owned.size > 0 && !this.ctx.isClosed) {
        await this.listener.onRevoked(this.order.map((st) => st.tp));
      }
    } finally {
      this.closed = true;
      this.owned.clear();
      this.order = [];
      this.ctx.resources.delete(this);
      const client = this.client;
      this.client = null;
      if (client !== null) await client.close(true).catch(() => undefined);
    }
  }
}
