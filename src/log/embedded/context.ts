import type Database from 'better-sqlite3';
import { ClosedError, TributaryError } from '../../errors/index.js';
import type { Checkpointer } from './checkpointer.js';
import type { Statements } from './statements.js';
import type { TopicRegistry } from './topics.js';

/** Something the log closes when it is closed itself (its producers and consumers). */
export interface LogResource {
  close(): Promise<void>;
}

/**
 * What the parts of one open embedded log share: the connection, its prepared statements, the
 * topic cache, the in-process "records were appended" signal and the closed flag. Producers,
 * consumers and the admin depend on this, never on EmbeddedLog itself.
 */
export class LogContext {
  private closed = false;
  private readonly appendListeners = new Set<() => void>();
  readonly resources = new Set<LogResource>();
  private readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(
    readonly db: Database.Database,
    readonly stmts: Statements,
    readonly topics: TopicRegistry,
    /** The path as the user gave it (for messages). */
    readonly path: string,
    /** The canonical path: identifies the file across instances in this process. */
    readonly realPath: string,
    readonly defaultPartitions: number,
    readonly checkpointer: Checkpointer,
  ) {
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new ClosedError(`the embedded log ${this.path} is closed`);
  }

  markClosed(): void {
    this.closed = true;
    this.notifyAppended(); // wakes waiting polls so that they return
  }

  /**
   * Runs `fn` in one `BEGIN IMMEDIATE` transaction: it takes the file's write lock up front
   * (waiting up to the busy timeout for other processes), so reads inside see what it writes on.
   */
  writeTransaction<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return this.runInTransaction.immediate(fn) as T;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** Runs `fn` in one read transaction (a consistent snapshot across its statements). */
  readTransaction<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return this.runInTransaction.deferred(fn) as T;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** Maps SQLite's lock timeouts to a retriable error that says what happened. */
  translate(e: unknown): unknown {
    const code = (e as { code?: unknown } | null)?.code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT') {
      return new TributaryError(
        `the embedded log ${this.path} is busy: another process held its write lock for more than 10 s`,
        { cause: e, retriable: true },
      );
    }
    return e;
  }

  /** Called after this instance committed appends of `bytes`: wakes consumers waiting in poll(). */
  notifyAppended(bytes = 0): void {
    if (bytes > 0) this.checkpointer.noteAppended(bytes);
    for (const listener of this.appendListeners) listener();
  }

  onAppended(listener: () => void): void {
    this.appendListeners.add(listener);
  }

  offAppended(listener: () => void): void {
    this.appendListeners.delete(listener);
  }
}
