import { mkdirSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { TributaryError } from '../../errors/index.js';
import type { ConsumerOptions, Log, LogConsumer, LogProducer, ProducerOptions } from '../types.js';
import { EmbeddedAdmin } from './admin.js';
import { Checkpointer } from './checkpointer.js';
import { EmbeddedConsumer } from './consumer.js';
import { LogContext } from './context.js';
import { EmbeddedProducer } from './producer.js';
import { type Durability, openSchema } from './schema.js';
import { prepareStatements } from './statements.js';
import { TopicRegistry } from './topics.js';

export interface EmbeddedLogOptions {
  /** The SQLite file; its parent directories are created. Several processes may open the same file. */
  path: string;
  /**
   * Partitions of a topic created implicitly, when a producer sends to a topic that does not
   * exist. Default 1. Topics created with admin.createTopics() have the count they ask for.
   */
  defaultPartitions?: number;
  /**
   * 'normal' (default): SQLite `synchronous=NORMAL` in WAL mode; a committed transaction survives
   * the process being killed, the last ones may be lost on power failure. 'full': `synchronous=FULL`,
   * every commit is on disk before it returns (slower).
   */
  durability?: Durability;
}

/** The embedded log: topics, partitions, groups and transactions in one better-sqlite3 file. */
export class EmbeddedLog implements Log {
  readonly kind = 'embedded' as const;
  /** Commits check the group generation of sendOffsets, so one transaction may carry every task. */
  readonly capabilities = { generationFencing: true, topicInternalFlag: true, exclusiveGroupMember: true } as const;
  readonly admin: EmbeddedAdmin;
  private readonly ctx: LogContext;
  private closing: Promise<void> | null = null;

  constructor(options: EmbeddedLogOptions) {
    const { path } = options;
    if (typeof path !== 'string' || path.length === 0) throw new TributaryError('openEmbeddedLog needs a file path');
    const defaultPartitions = options.defaultPartitions ?? 1;
    if (!Number.isInteger(defaultPartitions) || defaultPartitions < 1) {
      throw new TributaryError(`defaultPartitions must be a positive integer, got ${String(defaultPartitions)}`);
    }
    const durability = options.durability ?? 'normal';
    if (durability !== 'normal' && durability !== 'full') {
      throw new TributaryError(`durability must be 'normal' or 'full', got '${String(durability)}'`);
    }
    mkdirSync(dirname(resolve(path)), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (e) {
      throw new TributaryError(`cannot open the embedded log ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      openSchema(db, path, durability);
      const stmts = prepareStatements(db);
      const realPath = realpathSync(path);
      const topics = new TopicRegistry(stmts, path);
      this.ctx = new LogContext(db, stmts, topics, path, realPath, defaultPartitions, new Checkpointer(realPath));
    } catch (e) {
      db.close();
      if (e instanceof TributaryError) throw e;
      throw new TributaryError(`cannot open the embedded log ${path}: ${(e as Error).message}`, { cause: e });
    }
    this.admin = new EmbeddedAdmin(this.ctx);
  }

  /** The file, as given to openEmbeddedLog(). */
  get path(): string {
    return this.ctx.path;
  }

  producer(options: ProducerOptions = {}): LogProducer {
    return new EmbeddedProducer(this.ctx, options);
  }

  consumer(options: ConsumerOptions): LogConsumer {
    return new EmbeddedConsumer(this.ctx, options);
  }

  /** Closes its consumers (they leave their groups) and producers, then the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    const { ctx } = this;
    let error: unknown;
    // consumers first: their onRevoked listeners may still commit through a producer
    const resources = [...ctx.resources];
    const ordered = [...resources.filter((r) => r instanceof EmbeddedConsumer), ...resources.filter((r) => !(r instanceof EmbeddedConsumer))];
    for (const resource of ordered) {
      try {
        await resource.close();
      } catch (e) {
        error ??= e;
      }
    }
    ctx.markClosed();
    await ctx.checkpointer.close();
    ctx.db.close(); // finalizes every prepared statement; the last connection to the file checkpoints it
    if (error !== undefined) throw error;
  }
}
