/**
 * Prometheus metrics of one StreamsRuntime, in a prom-client Registry of its own (never the
 * global one, so several runtimes can share a process). Counters and gauges are read from the
 * runtime when scraped; latencies come from its observer hook, once per batch and per commit
 * (nothing per record); consumer lag is recomputed every `lagIntervalMs` in the background, and
 * on a scrape when the last computation is older than that. README "Operations" lists every metric.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../runtime/logger.js';
import { silentLogger } from '../runtime/logger.js';
import type { RuntimeStats, RuntimeStatus, StreamsRuntime } from '../runtime/streams-runtime.js';
import { consumerGroupLag, OldestRecordProbe, type PartitionLag } from './lag.js';

export interface RuntimeMetricsOptions {
  /**
   * How often consumer lag is recomputed in the background, in ms; a scrape recomputes it when
   * the last computation is older. Default 5000. 0: only when scraped (every scrape).
   */
  lagIntervalMs?: number;
  /** Longest a lag computation waits to read the oldest unconsumed records' timestamps, in ms. Default 3000. */
  lagProbeMs?: number;
  /** Also export prom-client's default Node.js process metrics. Default true. */
  defaultMetrics?: boolean;
  logger?: Logger;
  /** The wall clock (lag seconds); injectable for tests. */
  clock?: () => number;
}

/** Latency buckets, in seconds: 0.5 ms to 10 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The task states `tributary_tasks` always reports (0 when none), so dashboards see every series. */
const TASK_STATES = ['restoring', 'running'] as const;

interface Snapshot {
  stats: RuntimeStats;
  status: RuntimeStatus;
  stores: Record<string, number>;
}

/**
 * The metrics of a runtime. `startOpsServer()` creates one and serves it on `/metrics`; an
 * embedding program with its own HTTP server can create one and serve `metrics()` itself.
 *
 * @example
 * const metrics = new RuntimeMetrics(runtime);
 * app.get('/metrics', async (_, res) => res.type(metrics.contentType).send(await metrics.metrics()));
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly application: string;
  private readonly lagIntervalMs: number;
  private readonly lagProbeMs: number;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly probe: OldestRecordProbe;
  private readonly unobserve: () => void;
  private readonly timer: NodeJS.Timeout | undefined;
  private snapshotCache: { at: number; value: Snapshot } | undefined;
  private lagRefresh: Promise<void> | undefined;
  private lagComputedAt = -Infinity;
  private lastLag: PartitionLag[] = [];
  private lagFailure: string | undefined;
  private closed = false;

  private readonly consumerLag: Gauge;
  private readonly applicationLag: Gauge;
  private readonly groupLag: Gauge;
  private readonly groupLagSeconds: Gauge;
  private readonly groupMaxLag: Gauge;
  private readonly groupMaxLagSeconds: Gauge;
  private readonly groupSumLag: Gauge;

  constructor(private readonly runtime: StreamsRuntime, options: RuntimeMetricsOptions = {}) {
    this.application = runtime.applicationId;
    this.lagIntervalMs = options.lagIntervalMs ?? 5000;
    this.lagProbeMs = options.lagProbeMs ?? 3000;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? Date.now;
    this.probe = new OldestRecordProbe(runtime.log);
    const registers = [this.registry];
    const application = this.application;
    const snap = () => this.snapshot();
    /** A counter whose value is a total the runtime keeps: set at each scrape. */
    const totals = (name: string, help: string, labelNames: string[], read: (s: Snapshot) => [Record<string, string>, number][]) =>
      new Counter({
        name,
        help,
        labelNames: ['application', ...labelNames],
        registers,
        collect() {
          this.reset();
          for (const [labels, value] of read(snap())) this.inc({ application, ...labels }, value);
        },
      });
    const byTopic = (counts: Record<string, number>) => Object.entries(counts).map(([topic, n]): [Record<string, string>, number] => [{ topic }, n]);

    totals('tributary_records_consumed_total', 'Records taken from each topic the application reads (processed, or skipped by an error handler), its repartition topics included.', ['topic'], (s) => byTopic(s.stats.consumed));
    totals('tributary_records_produced_total', 'Records written to each topic in committed transactions: output, repartition, changelog and dead-letter topics.', ['topic'], (s) => byTopic(s.stats.produced));
    totals('tributary_dropped_records_total', 'Records skipped or dead-lettered, by reason (deserialization-error, processing-error, punctuator-error, late-record, null-key, ...).', ['reason'], (s) =>
      Object.entries(s.stats.dropped).map(([reason, n]) => [{ reason }, n]),
    );
    totals('tributary_restore_records_total', 'Changelog records replayed into local state stores since start, restores in progress included.', [], (s) => [[{}, s.status.restore.restored]]);
    totals('tributary_transaction_aborts_total', 'Transactions aborted: a failed or fenced commit, after which the tasks restart from their last commit.', [], (s) => [[{}, s.stats.transactionAborts]]);
    totals('tributary_rebalances_total', 'Times the consumer group changed the assignment of this instance (the first join counts).', [], (s) => [[{}, s.stats.rebalances]]);
    totals('tributary_commits_total', 'Commits that wrote something (one transaction, or one per task).', [], (s) => [[{}, s.stats.commits]]);

    /** A gauge read from the runtime at each scrape. */
    const current = (name: string, help: string, labelNames: string[], read: (s: Snapshot) => [Record<string, string>, number][]) =>
      new Gauge({
        name,
        help,
        labelNames: ['application', ...labelNames],
        registers,
        collect() {
          this.reset();
          for (const [labels, value] of read(snap())) this.set({ application, ...labels }, value);
        },
      });
    current('tributary_restore_remaining_records', 'Changelog offsets the restoring tasks still have to replay (0 when no task restores).', [], (s) => [[{}, s.status.restore.remaining]]);
    current('tributary_store_keys', 'Approximate number of entries in each state store of this instance (window and session stores: one per key and window).', ['store'], (s) =>
      Object.entries(s.stores).map(([store, n]) => [{ store }, n]),
    );
    current('tributary_tasks', 'Tasks of this instance by state (restoring: being created and restoring state; running).', ['state'], (s) => {
      const counts = new Map<string, number>(TASK_STATES.map((st) => [st, 0]));
      for (const t of s.status.tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
      return [...counts].map(([state, n]) => [{ state }, n]);
    });
    current('tributary_ready', '1 when the runtime is running and every assigned task has restored (what /ready answers), else 0.', [], (s) => [[{}, s.status.ready ? 1 : 0]]);

    const processLatency = new Histogram({
      name: 'tributary_process_latency_seconds',
      help: 'Time of one processing pass: the records of one poll, processed in timestamp order across tasks (observed once per pass, not per record).',
      labelNames: ['application'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const commitLatency = new Histogram({
      name: 'tributary_commit_latency_seconds',
      help: 'Time of one commit: output, changelog records and input offsets in one transaction (or one per task), then the local state flush.',
      labelNames: ['application'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const processTimer = processLatency.labels({ application });
    const commitTimer = commitLatency.labels({ application });
    this.unobserve = runtime.observe({
      processed: (seconds) => processTimer.observe(seconds),
      committed: (seconds) => commitTimer.observe(seconds),
    });

    const lagGauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers });
    this.consumerLag = lagGauge('tributary_consumer_lag_records', 'Records not yet committed by the application, per partition it reads: log end (Kafka: last stable offset) minus committed offset.', ['application', 'topic', 'partition']);
    this.applicationLag = lagGauge('tributary_application_lag_records', 'Sum of tributary_consumer_lag_records over every partition the application reads.', ['application']);
    this.groupLag = lagGauge('kafka_consumergroup_group_lag', 'kafka-lag-exporter compatible: the same values as tributary_consumer_lag_records, with group = application id.', ['group', 'topic', 'partition']);
    this.groupLagSeconds = lagGauge('kafka_consumergroup_group_lag_seconds', 'kafka-lag-exporter compatible: seconds since the timestamp of the oldest unconsumed record of the partition, or 0 without lag.', ['group', 'topic', 'partition']);
    this.groupMaxLag = lagGauge('kafka_consumergroup_group_max_lag', 'kafka-lag-exporter compatible: the largest partition lag of the group.', ['group']);
    this.groupMaxLagSeconds = lagGauge('kafka_consumergroup_group_max_lag_seconds', 'kafka-lag-exporter compatible: the largest partition lag in seconds of the group.', ['group']);
    this.groupSumLag = lagGauge('kafka_consumergroup_group_sum_lag', 'kafka-lag-exporter compatible: the sum of partition lags of the group.', ['group']);

    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    if (this.lagIntervalMs > 0) {
      this.timer = setInterval(() => void this.refreshLag().catch(() => undefined), this.lagIntervalMs);
      this.timer.unref();
    }
  }

  /** The Content-Type of metrics()' text (Prometheus text format). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus text format; recomputes consumer lag first when it is older than lagIntervalMs. */
  async metrics(): Promise<string> {
    if (this.clock() - this.lagComputedAt >= this.lagIntervalMs) await this.refreshLag().catch(() => undefined);
    this.snapshotCache = undefined;
    return this.registry.metrics();
  }

  /** The consumer lag computed last, per partition (empty before the first computation). */
  lag(): PartitionLag[] {
    return this.lastLag;
  }

  /**
   * Recomputes consumer lag from the log's end offsets and the group's committed offsets (and
   * the age of the oldest unconsumed record of each lagging partition). Concurrent calls share
   * one computation. Does nothing before the runtime has started; keeps the last values when the
   * log cannot be read (the error is logged).
   */
  refreshLag(): Promise<void> {
    this.lagRefresh ??= this.computeLag().finally(() => (this.lagRefresh = undefined));
    return this.lagRefresh;
  }

  /** Stops the background lag computation and the runtime observer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.unobserve();
    await this.lagRefresh?.catch(() => undefined);
    await this.probe.close();
  }

  private snapshot(): Snapshot {
    // one read of the runtime per scrape, shared by every metric's collect()
    const now = performance.now();
    if (this.snapshotCache !== undefined && now - this.snapshotCache.at < 100) return this.snapshotCache.value;
    const value = { stats: this.runtime.stats(), status: this.runtime.status(), stores: this.runtime.storeSizes() };
    this.snapshotCache = { at: now, value };
    return value;
  }

  private async computeLag(): Promise<void> {
    const topology = this.runtime.compiledTopology();
    if (topology === undefined || this.closed) return;
    let lags: PartitionLag[];
    let timestamps: Map<string, number>;
    try {
      lags = await consumerGroupLag(this.runtime.log, this.application, topology);
      const lagging = lags.filter((l) => l.lag > 0).map((l) => ({ topic: l.topic, partition: l.partition, offset: l.logEnd - l.lag }));
      timestamps = await this.probe.timestamps(lags, lagging, this.lagProbeMs);
      if (this.lagFailure !== undefined) this.logger.info('consumer lag can be read again');
      this.lagFailure = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.lagFailure !== message) this.logger.warn(`cannot compute consumer lag; keeping the last values: ${message}`);
      this.lagFailure = message;
      throw err;
    }
    const now = this.clock();
    const group = this.application;
    for (const g of [this.consumerLag, this.groupLag, this.groupLagSeconds]) g.reset();
    let total = 0;
    let max = 0;
    let maxSeconds = 0;
    const previous = new Map(this.lastLagSeconds);
    this.lastLagSeconds.clear();
    for (const l of lags) {
      const partition = String(l.partition);
      const key = `${l.topic}\u0000${l.partition}`;
      // a lagging partition whose oldest record was not read in time keeps its last age
      const ts = timestamps.get(key);
      const seconds = l.lag === 0 ? 0 : ts !== undefined ? Math.max(0, (now - ts) / 1000) : (previous.get(key) ?? 0);
      this.lastLagSeconds.set(key, seconds);
      this.consumerLag.set({ application: this.application, topic: l.topic, partition }, l.lag);
      this.groupLag.set({ group, topic: l.topic, partition }, l.lag);
      this.groupLagSeconds.set({ group, topic: l.topic, partition }, seconds);
      total += l.lag;
      max = Math.max(max, l.lag);
      maxSeconds = Math.max(maxSeconds, seconds);
    }
    this.applicationLag.set({ application: this.application }, total);
    this.groupSumLag.set({ group }, total);
    this.groupMaxLag.set({ group }, max);
    this.groupMaxLagSeconds.set({ group }, maxSeconds);
    this.lastLag = lags;
    this.lagComputedAt = this.clock();
  }

  private readonly lastLagSeconds = new Map<string, number>();
}
