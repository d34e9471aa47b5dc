import { TopicError } from '../../errors/index.js';
import type { CleanupPolicy, TopicDescription, TopicSpec } from '../types.js';
import type { Statements, TopicRow } from './statements.js';

/** A topic as the producer and consumer need it: its id in the file and its partition count. */
export interface TopicMeta {
  readonly id: number;
  readonly name: string;
  readonly partitions: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly internal: boolean;
}

const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/;

/** Kafka's topic-name rules: 1..249 characters of [a-zA-Z0-9._-], not "." or "..". */
export function validateTopicName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new TopicError('a topic name must be a non-empty string');
  if (name.length > 249) throw new TopicError(`topic name '${name.slice(0, 40)}...' is longer than 249 characters`);
  if (name === '.' || name === '..') throw new TopicError(`'${name}' is not a legal topic name`);
  if (!LEGAL_NAME.test(name)) {
    throw new TopicError(`topic name '${name}' is illegal: use only ASCII letters, digits, '.', '_' and '-'`);
  }
}

function toMeta(row: TopicRow): TopicMeta {
  return {
    id: row.topic_id,
    name: row.name,
    partitions: row.partitions,
    cleanupPolicy: row.cleanup_policy as CleanupPolicy,
    internal: row.internal !== 0,
  };
}

export function describe(meta: TopicMeta): TopicDescription {
  return { name: meta.name, partitions: meta.partitions, cleanupPolicy: meta.cleanupPolicy, internal: meta.internal };
}

/**
 * The topics of one log file, cached by name for the produce and fetch paths (a topic's id and
 * partition count never change while it exists). Admin reads go to the file. A topic deleted by
 * another process is noticed when an append finds no partition row; the entry is then dropped.
 */
export class TopicRegistry {
  private readonly cache = new Map<string, TopicMeta>();
  /** Bumped whenever a cached topic may have become stale: callers' own caches compare it. */
  version = 0;

  constructor(
    private readonly stmts: Statements,
    private readonly path: string,
  ) {}

  /** The topic, from the cache or the file; undefined when it does not exist. */
  find(name: string): TopicMeta | undefined {
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const row = this.stmts.topicByName.get(name);
    if (row === undefined) return undefined;
    const meta = toMeta(row);
    this.cache.set(name, meta);
    return meta;
  }

  /** Reads the topic from the file, bypassing (and refreshing) the cache. */
  load(name: string): TopicMeta | undefined {
    const row = this.stmts.topicByName.get(name);
    if (row === undefined) {
      if (this.cache.delete(name)) this.version++;
      return undefined;
    }
    const meta = toMeta(row);
    this.cache.set(name, meta);
    return meta;
  }

  /** The topic, or a TopicError that says how to create it. */
  require(name: string): TopicMeta {
    const meta = this.find(name);
    if (meta === undefined) throw this.unknown(name);
    return meta;
  }

  unknown(name: string): TopicError {
    return new TopicError(
      `topic '${name}' does not exist in the embedded log ${this.path}: create it first ` +
        `(admin.createTopics([{ name: '${name}', partitions: N }]), or produce to it to auto-create it)`,
    );
  }

  invalidate(name: string): void {
    this.cache.delete(name);
    this.version++;
  }

  all(): TopicMeta[] {
    return this.stmts.allTopics.all().map(toMeta);
  }

  /**
   * Creates the topics that do not exist; an existing one with another partition count is a
   * TopicError. Call inside a write transaction that does nothing else (a rollback drops the
   * cache entries of all these names).
   */
  createInTransaction(specs: readonly TopicSpec[]): TopicMeta[] {
    try {
      return this.create(specs);
    } catch (e) {
      for (const spec of specs) this.invalidate(spec.name);
      throw e;
    }
  }

  private create(specs: readonly TopicSpec[]): TopicMeta[] {
    const now = Date.now();
    const metas: TopicMeta[] = [];
    for (const spec of specs) {
      validateTopicName(spec.name);
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new TopicError(`topic '${spec.name}': partitions must be a positive integer, got ${String(spec.partitions)}`);
      }
      const policy = spec.cleanupPolicy ?? 'delete';
      if (policy !== 'delete' && policy !== 'compact') {
        throw new TopicError(`topic '${spec.name}': cleanupPolicy must be 'delete' or 'compact', got '${String(policy)}'`);
      }
      const existing = this.load(spec.name);
      if (existing !== undefined) {
        if (existing.partitions !== spec.partitions) {
          throw new TopicError(
            `topic '${spec.name}' already exists with ${existing.partitions} partition(s), not ${spec.partitions}; ` +
              'delete it first or use its partition count',
          );
        }
        metas.push(existing);
        continue;
      }
      const id = this.stmts.insertTopic.get(spec.name, spec.partitions, policy, spec.internal === true ? 1 : 0, now)!;
      for (let p = 0; p < spec.partitions; p++) this.stmts.insertPartition.run(id, p);
      const meta: TopicMeta = { id, name: spec.name, partitions: spec.partitions, cleanupPolicy: policy, internal: spec.internal === true };
      this.cache.set(spec.name, meta);
      metas.push(meta);
    }
    return metas;
  }

  /** Deletes topics with their records and committed offsets. Call inside a write transaction. */
  deleteInTransaction(names: readonly string[]): void {
    for (const name of names) {
      const meta = this.load(name);
      if (meta === undefined) throw this.unknown(name);
      this.stmts.deleteBatches.run(meta.id);
      this.stmts.deletePartitions.run(meta.id);
      this.stmts.deleteTopic.run(meta.id);
      this.stmts.deleteTopicOffsets.run(name);
      this.invalidate(name);
    }
  }
}
