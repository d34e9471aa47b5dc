import { randomUUID } from 'node:crypto';
import { type Consumer, type EachBatchPayload, PartitionAssigners } from 'kafkajs';
import { ClosedError, FencedError, IllegalStateError, TopicError, TributaryError } from '../../errors/index.js';
import type { ConsumedRecord, ConsumerOptions, GroupMemberAssignment, GroupMetadata, LogAdmin, LogConsumer, OffsetCommit, PartitionGrouping, RebalanceListener, TopicPartition } from '../types.js';
import { topicPartitionKey } from '../types.js';
import type { KafkaContext } from './context.js';
import { hasProtocolError, translateError } from './errors.js';
import { observingAssigner } from './group-hooks.js';
import { decodeGroupAssignment, groupingAssigner } from './grouping-assigner.js';
import { ensureLeft } from './group-requests.js';
import { PartitionState } from './partition-state.js';
import { fromKafkaMessage } from './record-codec.js';
import { Signal } from './signal.js';
import { startPositions } from './start-positions.js';

/** Longest a close waits for kafkajs to disconnect the consumer (Kafka's consumer close timeout is 30 s). */
const DISCONNECT_TIMEOUT_MS = 15_000;

type Mode = 'none' | 'subscribed' | 'assigned';

interface JoinSnapshot {
  version: number;
  generationId: number;
  memberId: string;
  keys: Map<string, TopicPartition>;
  /** The whole group's map the leader sent with this assignment (grouping assigner only). */
  group: GroupMemberAssignment[] | undefined;
}

/**
 * A poll()-style consumer over kafkajs' push-style `consumer.run({ eachBatch })`.
 *
 * kafkajs fetches in the background (read_committed unless asked otherwise, no auto-commit) into
 * a bounded buffer per partition; poll() hands out up to maxPollRecords of them, fairly across
 * partitions. A partition whose buffer is full is paused in kafkajs until poll() drained half of
 * it (backpressure). Positions are this consumer's own: at assignment it computes where to start
 * (committed offset, else autoOffsetReset) and seeks kafkajs there, and after every rejoin it
 * seeks kafkajs back to where its buffers end (kafkajs would restart from the committed offset).
 *
 * Rebalances: kafkajs rebalances eagerly and has no revoke callback. A hook on JoinGroup (see
 * group-hooks.ts) tells when the consumer starts rejoining: from then on poll() returns nothing.
 * When the new assignment arrives (GROUP_JOIN), the next poll() calls `onRevoked` with the
 * partitions it lost (their buffered records are dropped and never returned), then computes start
 * positions for the partitions it gained and calls `onAssigned` with them. Partitions kept across
 * the rebalance keep their position and buffered records. So onRevoked runs after the group has
 * moved on: another member may already own those partitions, and a commit made in onRevoked is
 * safe only when fenced by a transactional id per task (the broker does not check generations
 * for kafkajs' TxnOffsetCommit).
 *
 * assign(): kafkajs has no assign(). This consumer joins a throwaway group of its own
 * (`<groupId|tributary>-assign-<uuid>`, never committed to), takes all partitions of the assigned
 * partitions' topics there and keeps the others paused. Positions come from `groupId`'s committed
 * offsets when it has one, else autoOffsetReset.
 */
export class KafkaConsumer implements LogConsumer {
  private readonly groupId: string | undefined;
  private readonly autoOffsetReset: 'earliest' | 'latest';
  private readonly maxPollRecords: number;
  private readonly readUncommitted: boolean;
  private readonly grouping: PartitionGrouping | undefined;
  private mode: Mode = 'none';
  private subscription: string[] = [];
  private listener: RebalanceListener | null = null;
  /** The partitions this consumer presents as its assignment. */
  private readonly owned = new Map<string, PartitionState>();
  private order: PartitionState[] = [];
  private nextFirst = 0;

  private kc: Consumer | null = null;
  private kcTopics: string[] = [];
  private kcStarting: Promise<void> | null = null;
  /** The group the kafkajs consumer joins (the consumer's, or a throwaway one for assign()). */
  private kcGroup: string | null = null;
  /** kafkajs' current assignment (from the last GROUP_JOIN). */
  private kafkaAssigned = new Map<string, TopicPartition>();
  /** Partitions paused in kafkajs (because their buffer is full, or they are not ready). */
  private readonly kafkaPaused = new Set<string>();
  private rebalancing = false;
  private joinedGeneration = -1;
  private joinedMember = '';
  private latestJoin: JoinSnapshot | null = null;
  /** The group's map from the last SyncGroup answer, until GROUP_JOIN puts it in latestJoin. */
  private syncedGroup: GroupMemberAssignment[] | undefined;
  private processedJoin = 0;
  private generationId = -1;
  private memberId = '';
  private everJoined = false;
  /** Partitions gained in rebalances that the listener has not been told of yet. */
  private toAnnounce: PartitionState[] | null = null;
  /** Why kafkajs stopped its consumer for good (it restarts itself only after errors it deems retriable). */
  private crashed: unknown = null;
  /** A crash worth another try was reported: the next poll() starts a new kafkajs consumer. */
  private restartAfterCrash = false;

  private polling = false;
  private closing = false;
  private closed = false;
  private readonly signal = new Signal();

  constructor(
    private readonly ctx: KafkaContext,
    private readonly admin: LogAdmin,
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
    this.readUncommitted = options.isolationLevel === 'read_uncommitted';
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

  // ---------------------------------------------------------------- kafkajs consumer lifecycle

  /** Starts (or restarts, when the topics changed) the kafkajs consumer for `topics`. */
  private async ensureKafkaConsumer(topics: string[]): Promise<void> {
    // assign(): a consumer already reading a superset of the topics keeps its throwaway group (the
    // partitions not assigned stay paused), so a restore consumer reused for fewer topics does not join again
    const covered = topics.every((t) => this.kcTopics.includes(t));
    const same = this.kc !== null && covered && (this.mode === 'assigned' || topics.length === this.kcTopics.length);
    if (same) return this.kcStarting ?? undefined;
    await this.stopKafkaConsumer();
    this.kcTopics = [...topics];
    const tuning = this.ctx.consumerTuning;
    const kafkaGroup = this.mode === 'subscribed' ? this.groupId! : `${this.groupId ?? 'tributary'}-assign-${randomUUID()}`;
    this.kcGroup = kafkaGroup;
    const kc = this.ctx.kafka.consumer({
      groupId: kafkaGroup,
      partitionAssigners: [
        observingAssigner(this.mode === 'subscribed' && this.grouping !== undefined ? groupingAssigner(this.grouping) : PartitionAssigners.roundRobin, {
          onJoinStart: () => this.onJoinStart(kc),
          onJoined: (generation, member) => {
            if (this.kc !== kc) return;
            this.joinedGeneration = generation;
            this.joinedMember = member;
          },
          onSynced: (memberAssignment) => {
            if (this.kc === kc) this.syncedGroup = decodeGroupAssignment(memberAssignment);
          },
        }),
      ],
      sessionTimeout: tuning.sessionTimeoutMs,
      heartbeatInterval: tuning.heartbeatIntervalMs,
      rebalanceTimeout: tuning.rebalanceTimeoutMs,
      maxWaitTimeInMs: tuning.fetchMaxWaitMs,
      maxBytesPerPartition: tuning.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      readUncommitted: this.readUncommitted,
      // kafkajs would restart a crashed consumer by itself, but only after errors it deems
      // retriable, and out of sight of the caller: this consumer restarts it instead (see
      // throwIfCrashed), for every error Tributary deems retriable, after telling the caller
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 5000, restartOnFailure: async () => false },
    });
    this.kc = kc;
    this.kafkaAssigned = new Map();
    this.kafkaPaused.clear();
    kc.on(kc.events.GROUP_JOIN, (e) => {
      if (this.kc === kc) this.onGroupJoin(e.payload.memberAssignment, e.payload.memberId);
    });
    // A batch of only transaction markers, aborted records or emptied batches never reaches
    // eachBatch: move the position past it, or a partition ending in one (a commit marker; the
    // empty batch the log cleaner leaves of an aborted transaction) would look unfinished forever.
    kc.on(kc.events.END_BATCH_PROCESS, (e) => {
      if (this.kc !== kc || e.payload.batchSize !== 0) return;
      // fetchedOffset: added to the payload by patches/kafkajs+2.2.4.patch
      const fetchedOffset = (e.payload as { fetchedOffset?: string }).fetchedOffset;
      this.skipFiltered(e.payload.topic, e.payload.partition, fetchedOffset ?? e.payload.firstOffset, e.payload.lastOffset);
    });
    kc.on(kc.events.REBALANCING, () => {
      if (this.kc === kc) this.onJoinStart(kc);
    });
    kc.on(kc.events.CRASH, (e) => {
      if (this.kc !== kc) return;
      this.kafkaAssigned = new Map();
      this.kafkaPaused.clear();
      if (e.payload.restart) this.rebalancing = true;
      else this.crashed = e.payload.error;
      this.signal.notify();
    });
    const starting = (async () => {
      await kc.connect();
      await kc.subscribe({ topics, fromBeginning: this.autoOffsetReset === 'earliest' });
      // run() resolves after the first join; poll() waits for the GROUP_JOIN itself
      kc.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 1,
        // a batch a crashed or replaced kafkajs consumer still hands over must not move a position
        // the runtime has since rewound: its fetch offset may lie past the rewind point
        eachBatch: async (payload) => {
          if (this.kc === kc && this.crashed === null && !this.restartAfterCrash) await this.onBatch(payload);
        },
      }).catch((e: unknown) => {
        if (this.kc === kc) this.crashed = e;
        this.signal.notify();
      });
    })();
    this.kcStarting = starting.catch((e: unknown) => {
      if (this.kc === kc) {
        this.kc = null;
        this.kcTopics = [];
      }
      void kc.disconnect().catch(() => undefined);
      throw translateError(e, `start consuming ${topics.map((t) => `'${t}'`).join(', ')}`);
    });
    return this.kcStarting;
  }

  private async stopKafkaConsumer(): Promise<void> {
    const kc = this.kc;
    const group = this.kcGroup;
    const member = this.joinedMember;
    this.kc = null;
    this.kcTopics = [];
    this.kcStarting = null;
    this.kafkaAssigned = new Map();
    this.kafkaPaused.clear();
    this.joinedMember = '';
    this.joinedGeneration = -1;
    if (kc === null) return;
    // kafkajs' disconnect can wait forever for a consumer that is reconnecting after a broker
    // went away (tulios/kafkajs#1147) or whose run() had not settled (#967); closing must not
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      kc.disconnect().then(
        () => false,
        () => false,
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), DISCONNECT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (timedOut) this.ctx.warn('Consumer', `kafkajs did not disconnect within ${DISCONNECT_TIMEOUT_MS} ms; going on without waiting for it`);
    if (group !== null) await ensureLeft(this.ctx.kafka, group, member);
  }

  private onJoinStart(kc: Consumer): void {
    if (this.kc !== kc) return;
    this.rebalancing = true;
    this.signal.notify();
  }

  /** kafkajs joined (or rejoined) and has a new assignment. Runs synchronously before kafkajs fetches. */
  private onGroupJoin(assignment: Record<string, number[]>, memberId: string): void {
    const keys = new Map<string, TopicPartition>();
    for (const topic of Object.keys(assignment)) {
      for (const partition of assignment[topic]!) keys.set(topicPartitionKey(topic, partition), { topic, partition });
    }
    this.kafkaAssigned = new Map(keys);
    this.kafkaPaused.clear(); // kafkajs keeps pauses across rejoins: they are set again below
    this.rebalancing = false;
    this.latestJoin = {
      version: (this.latestJoin?.version ?? 0) + 1,
      generationId: this.joinedGeneration,
      memberId: memberId || this.joinedMember,
      keys,
      group: this.syncedGroup,
    };
    this.syncedGroup = undefined;
    // kafkajs would start from the committed offsets: seek what this consumer already reads to
    // where its buffers end, and hold everything else until its start position is known
    for (const [key, tp] of keys) {
      const st = this.owned.get(key);
      this.setKafkaPaused(key, tp, true, true);
      if (st !== undefined && st.initialized && !st.revoking) this.seekKafka(st);
      this.syncKafkaPause(key, tp);
    }
    this.signal.notify();
  }

  private seekKafka(st: PartitionState): void {
    if (this.kc === null || !this.kafkaAssigned.has(st.key)) return;
    try {
      this.kc.seek({ topic: st.topic, partition: st.partition, offset: String(st.fetchPosition) });
    } catch {
      // not running yet: the next GROUP_JOIN seeks it
    }
  }

  private setKafkaPaused(key: string, tp: TopicPartition, paused: boolean, force = false): void {
    if (this.kc === null || !this.kafkaAssigned.has(key)) return;
    if (!force && paused === this.kafkaPaused.has(key)) return;
    try {
      if (paused) this.kc.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
      else this.kc.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
      if (paused) this.kafkaPaused.add(key);
      else this.kafkaPaused.delete(key);
    } catch {
      // not running yet
    }
  }

  /** Fetching goes on for a ready partition until its buffer is full, and resumes at half. */
  private syncKafkaPause(key: string, tp: TopicPartition): void {
    const st = this.owned.get(key);
    const limit = this.ctx.consumerTuning.maxBufferedRecordsPerPartition;
    let paused: boolean;
    if (st === undefined || !st.initialized || st.revoking) paused = true;
    else if (this.kafkaPaused.has(key)) paused = st.buffered > limit / 2;
    else paused = st.buffered >= limit;
    this.setKafkaPaused(key, tp, paused);
  }

  /** kafkajs delivers a batch of one partition: buffer it, unless it is stale. */
  private async onBatch({ batch, isStale }: EachBatchPayload): Promise<void> {
    const key = topicPartitionKey(batch.topic, batch.partition);
    const st = this.owned.get(key);
    if (st === undefined || !st.initialized || st.revoking || isStale()) return;
    const fetchedOffset = Number((batch as unknown as { fetchedOffset: string }).fetchedOffset);
    // Only a batch fetched from exactly where this consumer reads may be buffered. One fetched
    // before a seek (the runtime rewound to its last commit) can reach here after kafkajs applied
    // the seek, and kafkajs then resolves its own position to that batch's end: buffering it, or
    // the batches after it, would skip the records between the two offsets, and a commit would
    // pass over them (lost output). Drop it and point kafkajs back at this consumer's position.
    if (fetchedOffset !== st.fetchPosition) {
      if (fetchedOffset > st.fetchPosition) {
        this.ctx.warn('Consumer', `a batch of ${batch.topic}-${batch.partition} fetched from offset ${fetchedOffset} arrived while this consumer reads from ${st.fetchPosition}; dropped, fetching again from ${st.fetchPosition}`);
      }
      this.seekKafka(st);
      return;
    }
    const { topic, partition } = batch;
    for (const m of batch.messages) st.push(fromKafkaMessage(topic, partition, m));
    st.fetchPosition = Number(batch.lastOffset()) + 1;
    this.syncKafkaPause(key, st.tp);
    this.signal.notify();
  }

  /**
   * Skips offsets kafkajs fetched and filtered out (control records, aborted data, empty
   * batches). Only a batch fetched from exactly the current fetch position counts: one fetched
   * before a seek does not.
   */
  private skipFiltered(topic: string, partition: number, fetchedFrom: string | null, lastOffset: string): void {
    const st = this.owned.get(topicPartitionKey(topic, partition));
    if (st === undefined || !st.initialized || st.revoking || fetchedFrom === null) return;
    if (Number(fetchedFrom) !== st.fetchPosition) return;
    const next = Number(lastOffset) + 1;
    if (next <= st.fetchPosition) return;
    st.fetchPosition = next;
    this.signal.notify();
  }

  // ---------------------------------------------------------------- the Log port

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.assertOpen();
    this.requireGroup('subscribe()');
    if (this.mode === 'assigned') throw new IllegalStateError('this consumer uses assign(): it cannot also subscribe()');
    if (!Array.isArray(topics) || topics.length === 0) throw new TopicError('subscribe() needs at least one topic');
    const unique = [...new Set(topics)];
    await this.ctx.topics.requireExisting(unique);
    this.subscription = unique;
    this.listener = listener;
    this.mode = 'subscribed';
    await this.ensureKafkaConsumer(unique);
  }

  assign(partitions: TopicPartition[]): void {
    this.assertOpen();
    if (this.mode === 'subscribed') throw new IllegalStateError('this consumer uses subscribe(): it cannot also assign()');
    const next = new Map<string, PartitionState>();
    for (const tp of partitions) {
      if (typeof tp.topic !== 'string' || tp.topic.length === 0) throw new TopicError('assign() got a partition without a topic');
      if (!Number.isInteger(tp.partition) || tp.partition < 0) throw new TopicError(`topic '${tp.topic}' has no partition ${tp.partition}`);
      const cached = this.ctx.topics.get(tp.topic);
      if (cached !== undefined && tp.partition >= cached.length) {
        throw new TopicError(`topic '${tp.topic}' has ${cached.length} partition(s): there is no partition ${tp.partition}`);
      }
      const key = topicPartitionKey(tp.topic, tp.partition);
      next.set(key, this.owned.get(key) ?? next.get(key) ?? new PartitionState(tp.topic, tp.partition, key));
    }
    this.owned.clear();
    for (const [k, st] of next) this.owned.set(k, st);
    this.order = [...next.values()];
    this.nextFirst = 0;
    this.mode = next.size === 0 ? 'none' : 'assigned';
    for (const [key, tp] of this.kafkaAssigned) {
      const st = this.owned.get(key);
      if (st !== undefined && st.initialized) this.seekKafka(st);
      this.syncKafkaPause(key, tp);
    }
    this.signal.notify();
  }

  async poll(maxWaitMs: number): Promise<ConsumedRecord[]> {
    this.assertOpen();
    if (this.polling) throw new IllegalStateError('poll() is already running on this consumer');
    this.polling = true;
    try {
      const deadline = Date.now() + (maxWaitMs > 0 ? maxWaitMs : 0);
      await this.dropCrashed();
      if (this.mode === 'assigned') await this.ensureKafkaConsumer([...new Set(this.order.map((s) => s.topic))]);
      if (this.mode === 'subscribed') {
        // none after a crash, or after a start that could not reach the cluster: start one again
        if (this.kc === null) await this.ensureKafkaConsumer(this.subscription);
        await this.kcStarting;
        await this.awaitFirstJoin();
      }
      for (;;) {
        if (this.closing || this.closed || this.ctx.isClosed) return [];
        this.throwIfCrashed();
        await this.handleGroupChange();
        await this.initializePending();
        await this.announceAssigned();
        if (this.closing || this.closed) return [];
        const records = this.rebalancing ? [] : this.drain();
        if (records.length > 0 || Date.now() >= deadline) return records;
        await this.signal.wait(deadline);
      }
    } finally {
      this.polling = false;
    }
  }

  private throwIfCrashed(): void {
    if (this.crashed === null) return;
    const error = translateError(this.crashed, `consume from Kafka (the kafkajs consumer stopped)`);
    // A broker that went away for longer than kafkajs' own retries must not stop this consumer
    // for good: the caller hears of it once (and rewinds), the next poll() joins again.
    if (error.retriable) {
      this.crashed = null;
      this.restartAfterCrash = true;
    }
    throw error;
  }

  /**
   * Drops the crashed kafkajs consumer; poll() then starts a new one, whose join's assignment
   * reaches the listener as any rebalance does.
   */
  private async dropCrashed(): Promise<void> {
    if (!this.restartAfterCrash) return;
    this.restartAfterCrash = false;
    await this.stopKafkaConsumer();
    // nothing is handed out until the new member's first assignment is known
    if (this.mode === 'subscribed') this.rebalancing = true;
  }

  /** The first poll() after subscribe() joins the group, however short its wait. */
  private async awaitFirstJoin(): Promise<void> {
    if (this.everJoined) return;
    const tuning = this.ctx.consumerTuning;
    const deadline = Date.now() + tuning.rebalanceTimeoutMs + tuning.sessionTimeoutMs;
    while (this.latestJoin === null) {
      if (this.closing || this.closed) return;
      this.throwIfCrashed();
      if (Date.now() >= deadline) {
        throw new TributaryError(`consumer of group '${this.groupId}' could not join its group within ${tuning.rebalanceTimeoutMs + tuning.sessionTimeoutMs} ms`, {
          retriable: true,
        });
      }
      await this.signal.wait(Math.min(deadline, Date.now() + 200));
    }
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

  /** onAssigned, once the start positions of the new partitions are known. */
  private async announceAssigned(): Promise<void> {
    const list = this.toAnnounce;
    if (list === null || this.listener === null) return;
    this.toAnnounce = null;
    await this.listener.onAssigned(list.filter((st) => this.owned.get(st.key) === st).map((st) => st.tp));
  }

  /** Computes start positions of owned partitions that have none yet, and lets kafkajs fetch them. */
  private async initializePending(): Promise<void> {
    const pending = this.order.filter((st) => !st.initialized);
    if (pending.length === 0) return;
    const positions = await startPositions(this.ctx, this.groupId, this.autoOffsetReset, pending);
    for (const [st, position] of positions) {
      if (this.owned.get(st.key) !== st || st.initialized) continue;
      st.seek(st.pendingSeek ?? position);
      st.pendingSeek = null;
      st.initialized = true;
      this.seekKafka(st);
      this.syncKafkaPause(st.key, st.tp);
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
    const touched = [...active];
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
    for (const st of touched) this.syncKafkaPause(st.key, st.tp);
    return out;
  }

  assignment(): TopicPartition[] {
    return this.order.filter((st) => !st.revoking || this.closing).map((st) => st.tp);
  }

  /**
   * Every member's endpoint and units from the last assignment kafkajs received (which may be
   * newer than what poll() has applied yet); undefined while rejoining or before the first join.
   */
  groupAssignment(): GroupMemberAssignment[] | undefined {
    if (this.mode !== 'subscribed' || this.rebalancing || this.closing || this.closed || this.latestJoin === null) return undefined;
    return this.latestJoin.group?.map((m) => ({ ...m, units: [...m.units] }));
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
    this.seekKafka(st);
    this.syncKafkaPause(st.key, st.tp);
  }

  /**
   * The next offset poll() returns. Right after assign() or a rebalance the start position is
   * only known once poll() has looked it up (IllegalStateError before, unless seek() set it).
   */
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

  /**
   * Commits offsets as this member, outside any transaction (OffsetCommit with the group
   * generation: a stale member gets FencedError). For a non-transactional producer's commit().
   */
  async commitAsMember(meta: GroupMetadata, offsets: OffsetCommit[]): Promise<void> {
    this.assertOpen();
    const kc = this.kc;
    if (kc === null || this.mode !== 'subscribed' || meta.memberId !== this.joinedMember || meta.generationId !== this.joinedGeneration || this.rebalancing) {
      throw new FencedError(
        `cannot commit offsets of group '${meta.groupId}' as member '${meta.memberId}' of generation ${meta.generationId}: ` +
          `the group has moved on (current generation ${this.joinedGeneration})`,
      );
    }
    try {
      await kc.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
    } catch (e) {
      if (hasProtocolError(e, 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID')) {
        throw new FencedError(`cannot commit offsets of group '${meta.groupId}': this member is no longer current`, { cause: e });
      }
      throw translateError(e, `commit offsets of group '${meta.groupId}'`);
    }
  }

  /** Whether this consumer is the live member `meta` describes. */
  isMember(meta: GroupMetadata): boolean {
    return this.mode === 'subscribed' && this.groupId === meta.groupId && this.memberId === meta.memberId && meta.memberId !== '';
  }

  /**
   * Revokes the assignment (listener.onRevoked, during which position() and groupMetadata()
   * still answer), leaves the group and closes.
   */
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
      await this.stopKafkaConsumer();
    }
  }
}
