import type { LogContext } from './context.js';

const FIRST_CHECK_MS = 1;
const MAX_CHECK_MS = 50;

/**
 * Lets a consumer's poll() sleep until records may have been appended, without spinning:
 * - a commit through the same EmbeddedLog instance wakes it at once (an in-process signal);
 * - another connection's commit (another process, or another instance on the same file) is
 *   seen by `PRAGMA data_version`, checked after 1 ms, then less and less often, up to every 50 ms.
 * It wakes at the deadline otherwise. One waiter per consumer, reused by every poll.
 */
export class AppendWaiter {
  private resolve: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private since = 0;
  private deadline = 0;
  private delay = FIRST_CHECK_MS;
  private readonly onAppended = (): void => this.finish();
  private readonly check = (): void => {
    this.timer = null;
    const ctx = this.ctx;
    if (ctx.isClosed || ctx.stmts.dataVersion.get() !== this.since) return this.finish();
    const left = this.deadline - Date.now();
    if (left <= 0) return this.finish();
    this.delay = Math.min(this.delay * 2, MAX_CHECK_MS);
    this.timer = setTimeout(this.check, Math.min(this.delay, left));
  };

  constructor(private readonly ctx: LogContext) {}

  /** Resolves when data_version moves past `since`, this instance appends, cancel() is called, or at `deadline`. */
  wait(since: number, deadline: number): Promise<void> {
    this.finish();
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      this.since = since;
      this.deadline = deadline;
      this.delay = FIRST_CHECK_MS;
      this.ctx.onAppended(this.onAppended);
      this.timer = setTimeout(this.check, Math.max(0, Math.min(this.delay, deadline - Date.now())));
    });
  }

  /** Ends the current wait now (consumer closing). */
  cancel(): void {
    this.finish();
  }

  private finish(): void {
    const resolve = this.resolve;
    if (resolve === null) return;
    this.resolve = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ctx.offAppended(this.onAppended);
    resolve();
  }
}
