/**
 * The live side of a projection: its own consumer loop over the Log port, in the consumer group
 * `<applicationId>-projection-<name>`, applying each poll's records to the live version of the
 * read model in one database transaction together with the offsets (compare-and-set).
 *
 * The database's offsets are the truth: on every assignment the runner seeks to them (offset 0
 * for a partition never applied), so Kafka's committed offsets, which it also writes after each
 * database commit for lag tools, are only advisory. A stale writer (a zombie after a rebalance)
 * fails its compare-and-set, re-reads the offsets and goes on from there; a rebuild's swap is seen
 * inside the transaction, and the runner moves to the new version at that version's offsets.
 */
import { IllegalStateError } from '../errors/index.js';
import type { ConsumedRecord, Log, LogConsumer, LogProducer, OutgoingRecord, TopicPartition } from '../log/types.js';
import type { Logger } from '../runtime/logger.js';
import { commitRecords, type ProjectionErrorHandling, type ProjectionSource } from './projection-batch.js';
import type { Projection } from './projection.js';
import type { ProjectionStore, VersionWriter } from './projection-store.js';

export interface ProjectionRunnerOptions {
  applicationId: string;
  projection: Projection<any, any>;
  source: ProjectionSource;
  log: Log;
  logger: Logger;
  errors: ProjectionErrorHandling;
  /** Records per poll, hence per database transaction. Default 1000. */
  maxPollRecords?: number;
  /** Longest a poll waits, ms. Default 100. */
  pollMs?: number;
  /** How often the advisory group offsets are committed to the log, ms. Default 1000. */
  advisoryCommitMs?: number;
}

export type ProjectionRunnerState = 'created' | 'running' | 'stopped' | 'failed';

export interface ProjectionRunnerStats {
  /** Records applied, and skipped by the error handling, since start. */
  applied: number;
  skipped: number;
  /** Database transactions committed. */
  commits: number;
  /** Compare-and-set failures (another writer moved the offsets). */
  staleWrites: number;
  /** The version written now. */
  version: number | undefined;
}

const IDLE_LIVE_CHECK_MS = 500;

/** `<applicationId>-projection-<name>`: the consumer group of a projection's live runner. */
export function projectionGroupId(applicationId: string, projection: string): string {
  return `${applicationId}-projection-${projection}`;
}

export class ProjectionRunner {
  readonly groupId: string;
  /** Settles when the loop ends: resolves after close(), rejects with the error that stopped it. */
  readonly stopped: Promise<void>;
  private runnerState: ProjectionRunnerState = 'created';
  private store!: ProjectionStore;
  private writer: VersionWriter | undefined;
  private consumer!: LogConsumer;
  private producer: LogProducer | undefined;
  private readonly stored = new Map<number, number>();
  private stopRequested = false;
  private lastAdvisoryAt = 0;
  private lastLiveCheckAt = 0;
  private advisoryDirty = false;
  /** Set once the group has handed this runner its partitions (possibly none). */
  private joined = false;
  private readonly counters = { applied: 0, skipped: 0, commits: 0, staleWrites: 0 };
  private resolveStopped!: () => void;
  private rejectStopped!: (err: unknown) => void;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.groupId = projectionGroupId(options.applicationId, options.projection.name);
    this.stopped = new Promise((resolve, reject) => {
      this.resolveStopped = resolve;
      this.rejectStopped = reject;
    });
    this.stopped.catch(() => undefined);
  }

  get state(): ProjectionRunnerState {
    return this.runnerState;
  }

  get name(): string {
    return this.options.projection.name;
  }

  stats(): ProjectionRunnerStats {
    return { ...this.counters, version: this.writer?.version };
  }

  /** Opens the read model (creating version 1 when there is none), subscribes, and starts the loop. */
  async start(): Promise<void> {
    if (this.runnerState !== 'created') throw new IllegalStateError(`projection '${this.name}': start() can be called once`);
    const { projection, log, logger } = this.options;
    try {
      this.store = await projection.openStore();
      const live = await this.store.ensureLive(projection.version);
      this.writer = await this.store.openWriter(live);
      const built = (await this.store.versions()).find((v) => v.version === live);
      if (built !== undefined && built.codeVersion !== projection.version) {
        logger.warn(
          `projection '${this.name}': the live read model (version ${live}) was built by version ${built.codeVersion} of the projection, this is version ${projection.version}; run 'tributary rebuild <topology> ${this.name}' to rebuild it`,
        );
      }
      this.consumer = log.consumer({ groupId: this.groupId, maxPollRecords: this.options.maxPollRecords ?? 1000, isolationLevel: 'read_committed' });
      await this.consumer.subscribe([this.options.source.topic], {
        onAssigned: (tps) => this.onAssigned(tps),
        onRevoked: (tps) => this.onRevoked(tps),
      });
    } catch (err) {
      this.runnerState = 'failed';
      await this.release();
      this.rejectStopped(err);
      throw err;
    }
    this.runnerState = 'running';
    logger.info(`projection '${this.name}' started`, { topic: this.options.source.topic, version: this.writer!.version, store: this.store.location });
    void this.loop();
  }

  /** Finishes the batch in progress, then leaves the group. Safe to call twice. */
  async close(): Promise<void> {
    if (this.runnerState === 'created') {
      this.runnerState = 'stopped';
      this.resolveStopped();
      return;
    }
    this.stopRequested = true;
    await this.stopped.catch(() => undefined);
  }

  /**
   * Records of the topic not applied yet, over the partitions this runner holds (0 when caught
   * up). Reads the log's end offsets, so call it from tests and tools, not per record.
   */
  async lag(): Promise<number> {
    const ends = await this.options.log.admin.offsets(this.options.source.topic);
    let lag = 0;
    for (const p of ends) {
      const at = this.stored.get(p.partition);
      if (at !== undefined) lag += Math.max(0, p.high - at);
    }
    return lag;
  }

  /**
   * True once this runner has joined its group and applied every record of the partitions it
   * holds (lag 0); false before it joined. `tributary run --until-idle` waits for this.
   */
  async caughtUp(): Promise<boolean> {
    if (this.runnerState !== 'running' || !this.joined) return false;
    return (await this.lag()) === 0;
  }

  private async loop(): Promise<void> {
    const pollMs = this.options.pollMs ?? 100;
    try {
      while (!this.stopRequested) {
        const records = await this.consumer.poll(pollMs);
        if (records.length > 0) await this.apply(records);
        else await this.checkLiveWhenIdle();
        await this.commitAdvisory(false);
      }
      await this.commitAdvisory(true);
      await this.release();
      this.runnerState = 'stopped';
      this.options.logger.info(`projection '${this.name}' stopped`, { ...this.counters });
      this.resolveStopped();
    } catch (err) {
      this.runnerState = 'failed';
      this.options.logger.error(`projection '${this.name}' failed: ${err instanceof Error ? err.message : String(err)}`);
      await this.release();
      this.rejectStopped(err);
    }
  }

  private async apply(records: ConsumedRecord[]): Promise<void> {
    const result = await commitRecords(this.writer!, records, {
      projection: this.name,
      source: this.options.source,
      errors: this.options.errors,
      stored: this.stored,
      replaying: false,
      requireLive: true,
      deadLetter: (letters) => this.deadLetter(letters),
    });
    const { outcome } = result;
    if (outcome.kind === 'committed') {
      this.counters.applied += result.applied;
      this.counters.skipped += result.skipped;
      this.counters.commits++;
      this.advisoryDirty = true;
      return;
    }
    if (outcome.kind === 'stale') {
      this.counters.staleWrites++;
      this.options.logger.warn(
        `projection '${this.name}': offset of ${outcome.topic}-${outcome.partition} is ${outcome.stored} in the read model, not ${outcome.expected}: another writer moved it; re-reading the offsets`,
      );
      await this.seekToStored(this.consumer.assignment());
      return;
    }
    await this.moveTo(outcome.live);
  }

  /** An idle runner looks for a swap now and then, so it lets go of the old version soon. */
  private async checkLiveWhenIdle(): Promise<void> {
    if (Date.now() - this.lastLiveCheckAt < IDLE_LIVE_CHECK_MS) return;
    this.lastLiveCheckAt = Date.now();
    const live = await this.store.liveVersion();
    if (live !== this.writer!.version) await this.moveTo(live);
  }

  /** A rebuild swapped a new version in: continue there, from its own offsets. */
  private async moveTo(version: number | undefined): Promise<void> {
    const from = this.writer!.version;
    await this.writer!.close();
    this.writer = undefined;
    const live = version ?? (await this.store.ensureLive(this.options.projection.version));
    this.writer = await this.store.openWriter(live);
    this.options.logger.info(`projection '${this.name}': version ${live} was swapped in (was ${from}); continuing there`);
    await this.seekToStored(this.consumer.assignment());
  }

  private async onAssigned(partitions: TopicPartition[]): Promise<void> {
    await this.seekToStored(partitions);
    this.joined = true;
  }

  private onRevoked(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.stored.delete(tp.partition);
  }

  /** Seeks the partitions to the offsets stored in the read model (rows at 0 are added for new ones). */
  private async seekToStored(partitions: TopicPartition[]): Promise<void> {
    const { topic } = this.options.source;
    const mine = partitions.filter((tp) => tp.topic === topic);
    if (mine.length === 0) return;
    await this.writer!.initOffsets(topic, new Map(mine.map((tp) => [tp.partition, 0])));
    const offsets = await this.writer!.readOffsets(topic);
    for (const tp of mine) {
      const at = offsets.get(tp.partition) ?? 0;
      this.stored.set(tp.partition, at);
      this.consumer.seek(tp, at);
    }
  }

  private async deadLetter(records: OutgoingRecord[]): Promise<void> {
    this.producer ??= this.options.log.producer();
    await this.producer.send(records);
  }

  /** Writes the read model's offsets as the group's committed offsets: advisory, for lag tools. */
  private async commitAdvisory(force: boolean): Promise<void> {
    if (!this.advisoryDirty || (!force && Date.now() - this.lastAdvisoryAt < (this.options.advisoryCommitMs ?? 1000))) return;
    this.lastAdvisoryAt = Date.now();
    this.advisoryDirty = false;
    const topic = this.options.source.topic;
    try {
      this.producer ??= this.options.log.producer();
      const txn = this.producer.beginTransaction();
      txn.sendOffsets(this.consumer.groupMetadata(), [...this.stored].map(([partition, offset]) => ({ topic, partition, offset })));
      await txn.commit();
    } catch (err) {
      this.options.logger.debug(`projection '${this.name}': advisory offset commit failed (harmless)`, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async release(): Promise<void> {
    for (const step of [() => this.consumer?.close(), () => this.writer?.close(), () => this.store?.close(), () => this.producer?.close()]) {
      try {
        await step();
      } catch {
        /* closing after a failure: the first error is the one reported */
      }
    }
    this.writer = undefined;
  }
}
