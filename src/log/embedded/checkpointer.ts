import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Copies the WAL back into the database file (a SQLite "checkpoint") on a worker thread with its
 * own connection, so that the main thread, which appends and fetches, does not do that copy and
 * its fsyncs itself. Started only once this log instance has appended a few MB (a CLI that
 * produces a handful of records never starts a thread). Without it, or if the thread cannot be
 * started, the main connection's `wal_autocheckpoint` does the work, as it also does when the
 * WAL grows past its limit under sustained load (a passive checkpoint running beside a writer
 * never lets the WAL restart from the beginning by itself).
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
let db = null;
try {
  db = new Database(workerData.path);
  db.pragma('busy_timeout = 1000');
  db.pragma('wal_autocheckpoint = 0');
} catch {
  db = null;
}
const checkpoint = () => {
  try { if (db !== null) db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: next time */ }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  try { if (db !== null) db.close(); } catch {}
  parentPort.close();
});
`;

const START_AFTER_BYTES = 8 * 1024 * 1024;
const INTERVAL_MS = 20;

export class Checkpointer {
  private worker: Worker | null = null;
  private appendedBytes = 0;
  private failed = false;
  private closed = false;

  constructor(private readonly path: string) {}

  /** Counts appended bytes; starts the thread past the threshold. */
  noteAppended(bytes: number): void {
    if (this.worker !== null || this.failed || this.closed) return;
    this.appendedBytes += bytes;
    if (this.appendedBytes >= START_AFTER_BYTES) this.start();
  }

  private start(): void {
    try {
      const driver = createRequire(import.meta.url).resolve('better-sqlite3');
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        execArgv: [], // no TypeScript loader or other flags in this thread: it runs plain CommonJS
        workerData: { path: this.path, driver, intervalMs: INTERVAL_MS },
      });
      worker.unref();
      worker.on('error', () => {
        this.failed = true;
        this.worker = null;
      });
      worker.on('exit', () => {
        if (this.worker === worker) this.worker = null;
      });
      this.worker = worker;
    } catch {
      this.failed = true; // the main connection's autocheckpoint still does the work
    }
  }

  /** Stops the thread (it closes its connection first); waits up to a second for it. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 1000);
    });
    if ((await Promise.race([exited, timeout])) === 'timeout') await worker.terminate();
    clearTimeout(timer);
  }
}
