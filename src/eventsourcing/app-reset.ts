/**
 * The application reset tool (`tributary reset`), in the spirit of kafka-streams-application-reset
 * and beyond it: after a reset, the next run of the application reprocesses its input from the
 * reset point with empty state, and its projections rebuild from that point.
 *
 * What a reset does, in this order (each step is idempotent: a reset that failed half way is
 * finished by running it again):
 * 1. Checks that no instance runs: every group it changes (the application's, and each
 *    projection's `<applicationId>-projection-<name>`) must have no live member. The log decides
 *    (LogAdmin.setCommittedOffsets refuses while a group has a live member).
 * 2. Input offsets: the application group's committed offset of every partition of its source
 *    topics becomes the earliest offset, or the first offset whose record has a timestamp at or
 *    after the reset time (a binary search that assumes timestamps mostly non-decreasing along a
 *    partition, as for records appended by applications; out-of-order timestamps move the point
 *    a little, never past a record in order).
 *    Not rewound: the commands topics of sub-topologies whose state is folded from their own
 *    output (an event-sourced aggregate, whose store's changelog is its events topic). Their
 *    commands were decided already and their events are the aggregate's truth: deciding them
 *    again against that state would refuse or double them.
 * 3. Internal topics (repartition and changelog topics the application owns) are deleted; the
 *    next start creates them again. Only topics the topology declares internal are deleted: an
 *    aggregate's events topic, output topics and source topics are never touched.
 * 4. Local state `<stateDir>/<applicationId>` is removed (stores and checkpoints), so stores
 *    restore from their (new, empty) changelogs, and an aggregate's store from its events topic.
 * 5. Projections: a new, empty version of each read model is created starting at the reset point
 *    of its topic (earliest offsets, or the offsets at the reset time), swapped in, and every
 *    older version dropped; the projection's group offsets (advisory) follow. A projection that
 *    needs every event since offset 0 (replayFromTime not declared) refuses a reset to a time.
 */
import { rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationRunningError, TributaryError, UsageError } from '../errors/index.js';
import type { Log, OffsetCommit, PartitionOffsets } from '../log/types.js';
import type { Topology } from '../topology/topology.js';
import type { Projection } from './projection.js';
import { projectionGroupId } from './projection-runner.js';
import { offsetForTimestamp } from './rebuild-time-index.js';

/** Where the application restarts: its earliest offsets, or a point in time. */
export type ResetPoint = { kind: 'earliest' } | { kind: 'time'; at: Date };

export interface ResetOptions {
  topology: Topology;
  log: Log;
  /** The root of local state (`<state-dir>/state`): the application's is `<stateDir>/<applicationId>`. */
  stateDir: string;
  point: ResetPoint;
}

export interface ResetPartition {
  partition: number;
  /** The committed offset now; undefined when the group has none. */
  from: number | undefined;
  to: number;
}

export interface ProjectionReset {
  name: string;
  backend: string;
  location: string;
  topic: string;
  group: string;
  live: number | undefined;
  /** Versions that exist now (not dropped): all are dropped by the reset. */
  versions: number[];
  starts: ResetPartition[];
  /** Why this projection cannot be reset to this point (the whole reset is refused then). */
  refusal?: string;
}

/** What a reset will do: computed by planReset() from reads only. */
export interface ResetPlan {
  applicationId: string;
  point: ResetPoint;
  logKind: Log['kind'];
  inputs: { topic: string; partitions: ResetPartition[] }[];
  /** Source topics not rewound, with the reason. */
  kept: { topic: string; reason: string }[];
  /** Internal topics the topology declares; the existing ones are deleted. */
  internalTopics: { name: string; exists: boolean }[];
  /** Topics never touched (events, outputs), named in the plan so nobody worries. */
  untouched: string[];
  localState: { path: string; exists: boolean };
  projections: ProjectionReset[];
  /** Reasons to refuse; an empty list when the reset may go ahead. */
  refusals: string[];
}

/** Reads the log, the local state and the projections' catalogs; changes nothing. */
export async function planReset(options: ResetOptions): Promise<ResetPlan> {
  const { topology, log, point } = options;
  const applicationId = topology.applicationId;
  const existing = new Set(await log.admin.listTopics());
  const kept = keptSources(topology);
  const refusals: string[] = [];

  const inputs: ResetPlan['inputs'] = [];
  for (const topic of topology.sourceTopics) {
    if (kept.has(topic)) continue;
    if (!existing.has(topic)) continue;
    inputs.push({ topic, partitions: await resetPartitions(log, applicationId, topic, point) });
  }

  const protectedTopics = new Set<string>([...topology.sourceTopics, ...topology.sinkTopics, ...topology.projections.map((p) => p.topic)]);
  for (const store of topology.stores.values()) {
    if (typeof store.changelog === 'object') protectedTopics.add('outputTopic' in store.changelog ? store.changelog.outputTopic : store.changelog.sourceTopic);
  }
  const internalTopics = topology.internalTopics.map((t) => ({ name: t.name, exists: existing.has(t.name) }));
  for (const t of internalTopics) {
    // Never expected (the compiler keeps them apart); checked because deleting one would lose data.
    if (protectedTopics.has(t.name)) throw new TributaryError(`reset: '${t.name}' is both internal and a source, output or events topic of '${applicationId}': refusing to delete it`);
  }

  const projections: ProjectionReset[] = [];
  for (const def of topology.projections) {
    const projection = def.projection as Projection;
    const group = projectionGroupId(applicationId, projection.name);
    const store = await projection.openStore();
    try {
      const versions = (await store.versions()).filter((v) => v.state !== 'dropped').map((v) => v.version);
      const entry: ProjectionReset = {
        name: projection.name,
        backend: projection.backend,
        location: store.location,
        topic: def.topic,
        group,
        live: await store.liveVersion(),
        versions,
        starts: [],
      };
      if (point.kind === 'time' && !projection.replayFromTime) {
        entry.refusal =
          `projection '${projection.name}' needs every event since offset 0 (it does not declare replayFromTime: true), ` +
          `so it cannot restart from ${point.at.toISOString()}: reset --to-earliest, or declare replayFromTime: true if its view allows that`;
        refusals.push(entry.refusal);
      } else if (existing.has(def.topic)) {
        entry.starts = await resetPartitions(log, group, def.topic, point);
      }
      projections.push(entry);
    } finally {
      await store.close();
    }
  }

  const internal = new Set(topology.internalTopics.map((t) => t.name));
  const rewound = new Set(inputs.map((i) => i.topic));
  const untouched = [...protectedTopics].filter((t) => !rewound.has(t) && !kept.has(t) && !internal.has(t) && existing.has(t)).sort();
  const path = join(options.stateDir, applicationId);
  return {
    applicationId,
    point,
    logKind: log.kind,
    inputs,
    kept: [...kept].filter(([t]) => existing.has(t)).map(([topic, reason]) => ({ topic, reason })),
    internalTopics,
    untouched,
    localState: { path, exists: existsSync(path) },
    projections,
    refusals,
  };
}

/**
 * Source topics of sub-topologies that own a store whose changelog is one of their output
 * topics (an event-sourced aggregate): rewinding them would decide their commands again.
 */
function keptSources(topology: Topology): Map<string, string> {
  const kept = new Map<string, string>();
  for (const store of topology.stores.values()) {
    if (typeof store.changelog !== 'object' || !('outputTopic' in store.changelog)) continue;
    const owner = topology.subtopologyOfStore(store.name);
    if (owner === undefined) continue;
    const events = store.changelog.outputTopic;
    for (const topic of owner.sourceTopics) {
      if (topology.isInternalTopic(topic)) continue;
      kept.set(
        topic,
        `its records were decided already into '${events}', the event log that store '${store.name}' is folded from; ` +
          `rewinding it would decide them again against that state (the store itself is rebuilt from '${events}')`,
      );
    }
  }
  return kept;
}

async function resetPartitions(log: Log, group: string, topic: string, point: ResetPoint): Promise<ResetPartition[]> {
  const parts = await log.admin.offsets(topic);
  const committed = new Map((await log.admin.committedOffsets(group, [topic])).map((c) => [c.partition, c.offset]));
  const out: ResetPartition[] = [];
  for (const p of parts) out.push({ partition: p.partition, from: committed.get(p.partition), to: await targetOffset(log, topic, p, point) });
  return out;
}

function targetOffset(log: Log, topic: string, p: PartitionOffsets, point: ResetPoint): Promise<number> | number {
  return point.kind === 'earliest' ? p.low : offsetForTimestamp(log, topic, p, point.at.getTime());
}

export interface ExecuteResetOptions {
  log: Log;
  topology: Topology;
  /**
   * Kafka: keep retrying for up to `forceWaitMs` while a group still has members (members of
   * stopped or killed instances leave when their session times out). It cannot remove members
   * of instances that still run. The embedded log knows a dead process's member is not live, and
   * never lets a reset run under a live one, --force or not.
   */
  force?: boolean;
  /** How long --force waits for members to go, ms. Default 120000. */
  forceWaitMs?: number;
  /** Told each step as it is done, as a line of text. */
  onStep?: (line: string) => void;
}

/** Carries out a plan; refuses (ApplicationRunningError) while an instance runs, before changing anything. */
export async function executeReset(plan: ResetPlan, options: ExecuteResetOptions): Promise<string[]> {
  if (plan.refusals.length > 0) throw new UsageError(`reset refused: ${plan.refusals.join('; ')}`);
  const { log, topology } = options;
  const done: string[] = [];
  const step = (line: string) => {
    done.push(line);
    options.onStep?.(line);
  };

  // 1. No live member in any group the reset changes: checked before anything changes.
  const appOffsets: OffsetCommit[] = plan.inputs.flatMap((i) => i.partitions.map((p) => ({ topic: i.topic, partition: p.partition, offset: p.to })));
  const groups: { group: string; topics: string[]; planned: OffsetCommit[] }[] = [
    { group: plan.applicationId, topics: topology.subtopologies.flatMap((s) => [...s.sourceTopics]), planned: appOffsets },
    ...plan.projections.map((p) => ({ group: p.group, topics: [p.topic], planned: p.starts.map((s) => ({ topic: p.topic, partition: s.partition, offset: s.to })) })),
  ];
  for (const g of groups) {
    const checked = await checkNotRunning(log, g.group, g.topics, g.planned, options);
    step(checked ? `checked: group '${g.group}' has no live member` : `could not check group '${g.group}' for live members (it has no committed offsets and none to set)`);
  }

  // 2. Input offsets.
  if (appOffsets.length > 0) {
    await log.admin.setCommittedOffsets(plan.applicationId, appOffsets);
    step(`set ${appOffsets.length} committed offset(s) of group '${plan.applicationId}' (${plan.inputs.map((i) => i.topic).join(', ')})`);
  }

  // 3. Internal topics.
  const internal = new Set(topology.internalTopics.map((t) => t.name));
  const toDelete = plan.internalTopics.filter((t) => t.exists && internal.has(t.name)).map((t) => t.name);
  if (toDelete.length > 0) {
    const still = new Set(await log.admin.listTopics());
    const present = toDelete.filter((t) => still.has(t));
    if (present.length > 0) await log.admin.deleteTopics(present);
    step(`deleted internal topic(s) ${toDelete.join(', ')}`);
  }

  // 4. Local state.
  if (existsSync(plan.localState.path)) {
    rmSync(plan.localState.path, { recursive: true, force: true });
    step(`removed local state ${plan.localState.path}`);
  }

  // 5. Projections.
  for (const p of plan.projections) {
    const def = topology.projections.find((d) => d.projection.name === p.name)!;
    const version = await resetProjection(def.projection as Projection, p, plan.point);
    const starts = p.starts.map((s) => ({ topic: p.topic, partition: s.partition, offset: s.to }));
    if (starts.length > 0) await log.admin.setCommittedOffsets(p.group, starts);
    step(`projection '${p.name}': version ${version} is live, empty, starting at ${describeStarts(p.starts)} of '${p.topic}'${p.versions.length > 0 ? `; dropped version(s) ${p.versions.join(', ')}` : ''}`);
  }
  return done;
}

/**
 * For --dry-run: the groups that have a live member, checked without changing anything, which
 * only the embedded log can do (it checks an empty commit). Undefined on other logs.
 */
export async function runningGroups(plan: ResetPlan, log: Log): Promise<string[] | undefined> {
  if (log.kind !== 'embedded') return undefined;
  const running: string[] = [];
  for (const group of [plan.applicationId, ...plan.projections.map((p) => p.group)]) {
    try {
      await log.admin.setCommittedOffsets(group, []);
    } catch (err) {
      if (!(err instanceof ApplicationRunningError)) throw err;
      running.push(group);
    }
  }
  return running;
}

/**
 * True when the log confirmed the group has no live member: it re-commits the group's current
 * offsets (no change), or, when it has none, the planned ones (set next anyway). The embedded log
 * checks even an empty commit; Kafka's coordinator needs at least one offset.
 */
async function checkNotRunning(log: Log, group: string, topics: string[], planned: OffsetCommit[], options: ExecuteResetOptions): Promise<boolean> {
  const existing = new Set(await log.admin.listTopics());
  const current = await log.admin.committedOffsets(group, [...new Set(topics)].filter((t) => existing.has(t)));
  const probe = current.length > 0 ? current : planned;
  if (probe.length === 0 && log.kind !== 'embedded') return false;
  const deadline = Date.now() + (options.forceWaitMs ?? 120_000);
  let told = false;
  for (;;) {
    try {
      await log.admin.setCommittedOffsets(group, probe);
      return true;
    } catch (err) {
      if (!(err instanceof ApplicationRunningError)) throw err;
      const retry = options.force === true && log.kind === 'kafka' && Date.now() < deadline;
      if (!retry) throw new ApplicationRunningError(`${err.message}${options.force === true ? '' : ' (or see --force)'}; nothing was reset`, { cause: err });
      if (!told) options.onStep?.(`--force: group '${group}' still has members; waiting up to ${Math.round((options.forceWaitMs ?? 120_000) / 1000)} s for them to leave (a stopped instance's member leaves when its session times out)`);
      told = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * Creates a new, empty version of the read model starting at the reset point, swaps it in and
 * drops every other version. Uses only the ProjectionStore port, so it works on every backend.
 */
async function resetProjection(projection: Projection, plan: ProjectionReset, point: ResetPoint): Promise<number> {
  const store = await projection.openStore();
  try {
    const live = await store.ensureLive(projection.version);
    const next = await store.createVersion(projection.version, point.kind === 'time' ? point.at.toISOString() : null);
    const writer = await store.openWriter(next);
    try {
      await writer.initOffsets(plan.topic, new Map(plan.starts.map((s) => [s.partition, s.to])));
    } finally {
      await writer.close();
    }
    // Nothing runs (checked), so the new version needs no catching up: swap at once.
    if (!(await store.swap(live, next, plan.topic, async () => true))) throw new TributaryError(`projection '${projection.name}': could not swap in version ${next}`);
    for (const v of await store.versions()) if (v.version !== next) await store.dropVersion(v.version, 0);
    return next;
  } finally {
    await store.close();
  }
}

function describeStarts(starts: readonly ResetPartition[]): string {
  if (starts.length === 0) return 'offset 0';
  return `offset(s) ${starts.map((s) => `${s.partition}:${s.to}`).join(', ')}`;
}

/** The plan as text, for people. */
export function describeResetPlan(plan: ResetPlan, where: string): string {
  const point = plan.point.kind === 'earliest' ? 'the earliest offsets' : `${plan.point.at.toISOString()}`;
  const lines = [`Reset of application '${plan.applicationId}' on ${where} to ${point}:`];
  const offsets = (parts: readonly ResetPartition[]) => parts.map((p) => `${p.partition}: ${p.from ?? 'none'} -> ${p.to}`).join(', ');
  if (plan.inputs.length === 0) lines.push(`  input offsets: no source topic to rewind`);
  for (const i of plan.inputs) lines.push(`  rewind input '${i.topic}' (group '${plan.applicationId}', partition: committed -> new): ${offsets(i.partitions)}`);
  for (const k of plan.kept) lines.push(`  keep input '${k.topic}' where it is: ${k.reason}`);
  const deleting = plan.internalTopics.filter((t) => t.exists).map((t) => t.name);
  lines.push(deleting.length > 0 ? `  delete internal topic(s) (created again at the next start): ${deleting.join(', ')}` : '  internal topics: none to delete');
  lines.push(plan.localState.exists ? `  remove local state ${plan.localState.path}` : `  local state: none at ${plan.localState.path}`);
  for (const p of plan.projections) {
    if (p.refusal !== undefined) {
      lines.push(`  projection '${p.name}': REFUSED: ${p.refusal}`);
      continue;
    }
    const versions = p.versions.length > 0 ? `drop version(s) ${p.versions.join(', ')} (live: ${p.live ?? 'none'})` : 'no version yet';
    lines.push(`  projection '${p.name}' (${p.backend}, ${p.location}): new empty version from ${p.starts.length > 0 ? offsets(p.starts) : 'offset 0'} of '${p.topic}'; ${versions}`);
  }
  if (plan.untouched.length > 0) lines.push(`  not touched: ${plan.untouched.join(', ')} (output and event topics are never changed by a reset)`);
  return lines.join('\n') + '\n';
}
