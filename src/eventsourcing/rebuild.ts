/**
 * Rebuilds a projection beside its live copy: fills version N+1 from offset 0 (or from a point
 * in time) while version N keeps serving, follows version N's offsets until it has caught up,
 * then swaps atomically (see ProjectionStore.swap) and drops version N unless kept.
 *
 * The rebuild never applies an event the live copy has not applied yet: its bound is the live
 * version's stored offsets, re-read as they move. So every event it applies is history
 * (`meta.replaying` is true: the live runner fired its side effects already), and at the swap
 * the new version holds exactly what the old one held. Events past that point are the live
 * runner's, which moves to the new version at the swap, from the new version's offsets.
 *
 * A rebuild keeps its progress in the new version's own offsets (applied in one transaction with
 * the events, as for the live runner), so one that dies resumes where it stopped when run again.
 * It reads the log with assign(), outside any consumer group, so it runs beside the application.
 */
import { TributaryError, UsageError } from '../errors/index.js';
import type { ConsumedRecord, Log, LogConsumer, TopicPartition } from '../log/types.js';
import type { Logger } from '../runtime/logger.js';
import { commitRecords, type ProjectionErrorHandling, type ProjectionSource } from './projection-batch.js';
import type { Projection } from './projection.js';
import type { ProjectionStore, VersionWriter } from './projection-store.js';
import { offsetForTimestamp } from './rebuild-time-index.js';

export interface RebuildOptions {
  projection: Projection<any, any>;
  source: ProjectionSource;
  log: Log;
  logger: Logger;
  errors: ProjectionErrorHandling;
  /** Keep the old version after the swap (state 'retired') instead of dropping it. */
  keep?: boolean;
  /** Replay only from this time on (the projection must allow it: `replayFromTime: true`). */
  from?: Date;
  /** Records per transaction. Default 5000. */
  maxPollRecords?: number;
  /** How long a dropped version stays readable for queries that resolved it just before the swap, ms. Default 2000. */
  dropGraceMs?: number;
  /** Called after every batch, and once more after the swap. */
  onProgress?: (progress: RebuildProgress) => void;
  /** Stops the rebuild after the batch in progress; run it again to resume. */
  signal?: AbortSignal;
}

export interface RebuildProgress {
  projection: string;
  version: number;
  phase: 'replaying' | 'swapping' | 'swapped';
  /** Records applied by this run. */
  applied: number;
  /** Records this run has to apply to reach the live version's offsets (moves as they move). */
  total: number;
  /** Records per second over this run. */
  rate: number;
  /** Estimated time left, ms; undefined before the rate is known. */
  etaMs: number | undefined;
}

export interface RebuildResult {
  /** The version swapped in. */
  version: number;
  /** The version it replaced. */
  replaced: number;
  /** Whether this run resumed a rebuild that had stopped. */
  resumed: boolean;
  applied: number;
  skipped: number;
  elapsedMs: number;
  /** The replaced version was dropped (not kept). */
  dropped: boolean;
}

/** How long the swap may hold the live version's writers while the new version catches up. */
const SWAP_CATCH_UP_MS = 10_000;
/** Start the swap once this few records are left. */
const SWAP_THRESHOLD = 1;

/**
 * Rebuilds `projection` as a new version and swaps it in.
 * @example
 * await rebuildProjection({ projection, source: { topic: 'deposits', keySerde, valueSerde }, log, logger, errors: app.config.errors });
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { projection, from } = options;
  if (from !== undefined && !projection.replayFromTime) {
    throw new UsageError(`projection '${projection.name}' needs every event since offset 0, so it cannot be rebuilt --from a point in time; declare replayFromTime: true on it if its view allows that`);
  }
  if (from !== undefined && Number.isNaN(from.getTime())) throw new UsageError('--from is not a valid date');
  const store = await projection.openStore();
  let writer: VersionWriter | undefined;
  let consumer: LogConsumer | undefined;
  try {
    const live = await store.ensureLive(projection.version);
    const prepared = await prepareVersion(store, options, live);
    writer = prepared.writer;
    consumer = options.log.consumer({ maxPollRecords: options.maxPollRecords ?? 5000, isolationLevel: 'read_committed' });
    const rebuild = new Rebuild(options, store, writer, consumer, live, prepared.resumed);
    return await rebuild.run();
  } finally {
    await consumer?.close().catch(() => undefined);
    await writer?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

/** Resumes the version a previous rebuild left building, or creates the next one at its start offsets. */
async function prepareVersion(store: ProjectionStore, options: RebuildOptions, live: number): Promise<{ writer: VersionWriter; resumed: boolean }> {
  const { projection, logger, source, log, from } = options;
  const fromIso = from?.toISOString() ?? null;
  let resume: number | undefined;
  for (const v of await store.versions()) {
    if (v.state !== 'building') continue;
    if (resume === undefined && v.version > live && v.codeVersion === projection.version && v.replayFrom === fromIso) resume = v.version;
    else {
      logger.info(`projection '${projection.name}': dropping version ${v.version}, left building by an earlier rebuild with other settings`);
      await store.dropVersion(v.version, 0);
    }
  }
  const partitions = await log.admin.offsets(source.topic);
  if (resume !== undefined) {
    logger.info(`projection '${projection.name}': resuming the rebuild of version ${resume} where it stopped`);
    const writer = await store.openWriter(resume);
    await writer.initOffsets(source.topic, new Map(partitions.map((p) => [p.partition, p.low])));
    return { writer, resumed: true };
  }
  const version = await store.createVersion(projection.version, fromIso);
  const starts = new Map<number, number>();
  for (const p of partitions) {
    const at = from === undefined ? p.low : await offsetForTimestamp(log, source.topic, p, from.getTime());
    if (from === undefined && p.low > 0) logger.warn(`projection '${projection.name}': ${source.topic}-${p.partition} starts at offset ${p.low} (older records were deleted): the rebuilt view lacks them`);
    starts.set(p.partition, at);
  }
  const writer = await store.openWriter(version);
  await writer.initOffsets(source.topic, starts);
  return { writer, resumed: false };
}

class Rebuild {
  private readonly topic: string;
  private readonly stored = new Map<number, number>();
  private readonly paused = new Set<number>();
  private applied = 0;
  private skipped = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly options: RebuildOptions,
    private readonly store: ProjectionStore,
    private readonly writer: VersionWriter,
    private readonly consumer: LogConsumer,
    private readonly live: number,
    private readonly resumed: boolean,
  ) {
    this.topic = options.source.topic;
  }

  async run(): Promise<RebuildResult> {
    const { projection } = this.options;
    const stored = await this.writer.readOffsets(this.topic);
    const tps: TopicPartition[] = [...stored.keys()].map((partition) => ({ topic: this.topic, partition }));
    this.consumer.assign(tps);
    for (const tp of tps) {
      this.stored.set(tp.partition, stored.get(tp.partition)!);
      this.consumer.seek(tp, stored.get(tp.partition)!);
    }
    for (;;) {
      this.checkAborted();
      const current = await this.store.liveVersion();
      if (current !== this.live) throw new TributaryError(`projection '${projection.name}': version ${current} was swapped in by someone else during this rebuild; stopping`);
      const bound = await this.store.readOffsets(this.live, this.topic);
      const remaining = this.remaining(bound);
      this.report('replaying', remaining);
      if (remaining < SWAP_THRESHOLD) {
        this.report('swapping', 0);
        const swapped = await this.store.swap(this.live, this.writer.version, this.topic, (liveOffsets) => this.catchUp(liveOffsets));
        if (swapped) break;
        continue;
      }
      await this.step(bound, 200);
    }
    this.report('swapped', 0);
    this.options.logger.info(`projection '${projection.name}': version ${this.writer.version} is live (was ${this.live})`, { applied: this.applied });
    const dropped = this.options.keep !== true;
    if (dropped) await this.store.dropVersion(this.live, this.options.dropGraceMs ?? 2000);
    return {
      version: this.writer.version,
      replaced: this.live,
      resumed: this.resumed,
      applied: this.applied,
      skipped: this.skipped,
      elapsedMs: Date.now() - this.startedAt,
      dropped,
    };
  }

  /** Records between this version's offsets and the bound (the live version's offsets). */
  private remaining(bound: ReadonlyMap<number, number>): number {
    let n = 0;
    for (const [p, at] of this.stored) n += Math.max(0, (bound.get(p) ?? 0) - at);
    return n;
  }

  /** Inside the swap, with the live version's writers held: apply up to its offsets exactly. */
  private async catchUp(bound: Map<number, number>): Promise<boolean> {
    const deadline = Date.now() + SWAP_CATCH_UP_MS;
    while (this.remaining(bound) > 0) {
      if (Date.now() > deadline || this.options.signal?.aborted) return false;
      await this.step(bound, 50);
    }
    return true;
  }

  /** One poll and one transaction: applies the records below the bound, holds back the rest. */
  private async step(bound: ReadonlyMap<number, number>, pollMs: number): Promise<void> {
    // Partitions at their bound wait for the live copy to move on.
    for (const [p, at] of this.stored) {
      const tp = { topic: this.topic, partition: p };
      const full = at >= (bound.get(p) ?? 0);
      if (full && !this.paused.has(p)) {
        this.consumer.pause([tp]);
        this.paused.add(p);
      } else if (!full && this.paused.has(p)) {
        this.consumer.resume([tp]);
        this.paused.delete(p);
      }
    }
    if (this.paused.size === this.stored.size) {
      await new Promise((r) => setTimeout(r, pollMs));
      return;
    }
    const records = await this.consumer.poll(pollMs);
    const below: ConsumedRecord[] = [];
    const overshot = new Set<number>();
    for (const r of records) {
      if (r.offset < (bound.get(r.partition) ?? 0)) below.push(r);
      else overshot.add(r.partition);
    }
    if (below.length > 0) {
      const result = await commitRecords(this.writer, below, {
        projection: this.options.projection.name,
        source: this.options.source,
        errors: this.options.errors,
        stored: this.stored,
        replaying: true,
        requireLive: false,
        deadLetter: async () => {
          // History was dead-lettered by the live runner already.
        },
      });
      if (result.outcome.kind === 'stale') {
        throw new TributaryError(
          `projection '${this.options.projection.name}': another rebuild is writing version ${this.writer.version} (its offset of partition ${result.outcome.partition} moved); stop it, or let it finish`,
        );
      }
      this.applied += result.applied;
      this.skipped += result.skipped;
    }
    // Records past the bound were fetched but not applied: read them again once the bound moves.
    for (const p of overshot) this.consumer.seek({ topic: this.topic, partition: p }, this.stored.get(p)!);
  }

  private checkAborted(): void {
    if (this.options.signal?.aborted) {
      throw new TributaryError(`rebuild of projection '${this.options.projection.name}' interrupted after ${this.applied} records; run it again to resume from there`);
    }
  }

  private report(phase: RebuildProgress['phase'], remaining: number): void {
    const onProgress = this.options.onProgress;
    if (onProgress === undefined) return;
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? this.applied / seconds : 0;
    onProgress({
      projection: this.options.projection.name,
      version: this.writer.version,
      phase,
      applied: this.applied,
      total: this.applied + remaining,
      rate,
      etaMs: rate > 0 ? (remaining / rate) * 1000 : undefined,
    });
  }
}
