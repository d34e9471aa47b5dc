/** A wake-up call for a waiting poll(): records arrived, the group changed, or the consumer closes. */
export class Signal {
  private waiters: (() => void)[] = [];

  /** Resolves at `deadline` (epoch ms) or at the next notify(), whichever is first. */
  wait(deadline: number): Promise<void> {
    const ms = deadline - Date.now();
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      }, ms);
      this.waiters.push(done);
    });
  }

  notify(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
