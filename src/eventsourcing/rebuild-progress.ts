/**
 * Shows a rebuild's progress on a stream (stderr): a bar redrawn in place on a terminal, plain
 * lines at most once a second otherwise (logs, CI).
 */
import type { RebuildProgress } from './rebuild.js';

export interface ProgressWriter {
  update(progress: RebuildProgress): void;
  /** Ends the bar's line on a terminal. */
  done(): void;
}

const BAR = 24;

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** One line of progress: `ledger v2 [#####-----]  45%  12,000/26,000 records  8,000 records/s  ETA 0:02`. */
export function formatProgress(p: RebuildProgress, bar: boolean): string {
  const fraction = p.total > 0 ? Math.min(1, p.applied / p.total) : 1;
  const filled = Math.round(fraction * BAR);
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const phase = p.phase === 'replaying' ? '' : `  ${p.phase}`;
  return (
    `${p.projection} v${p.version} ` +
    (bar ? `[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ` : '') +
    `${String(Math.floor(fraction * 100)).padStart(3)}%  ${n(p.applied)}/${n(p.total)} records  ${n(p.rate)} records/s  ETA ${p.etaMs === undefined ? '?' : formatDuration(p.etaMs)}${phase}`
  );
}

export function progressWriter(stream: NodeJS.WritableStream & { isTTY?: boolean }, now: () => number = Date.now): ProgressWriter {
  const tty = stream.isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const t = now();
      if (p.phase === 'replaying' && t - last < (tty ? 100 : 1000)) return;
      last = t;
      if (tty) {
        stream.write(`\r${formatProgress(p, true)}\x1b[K`);
        drawn = true;
      } else stream.write(formatProgress(p, false) + '\n');
    },
    done() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}
