export interface StopSignals {
  /** Resolves with the first SIGINT / SIGTERM. */
  readonly received: Promise<NodeJS.Signals>;
  /** Removes the handlers (Node's default handling of the signals comes back). */
  dispose(): void;
}

/**
 * Turns Ctrl-C / SIGTERM into a graceful stop. A second signal while stopping calls `onForce`,
 * because a user pressing Ctrl-C twice wants out now.
 */
export function stopSignals(onForce: (signal: NodeJS.Signals) => void): StopSignals {
  let resolveFirst!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((resolve) => (resolveFirst = resolve));
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) resolveFirst(signal);
    else onForce(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    received,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
