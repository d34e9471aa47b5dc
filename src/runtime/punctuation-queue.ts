import type { Cancellable, Punctuator } from '../processor/types.js';

interface Schedule {
  next: number;
  readonly interval: number;
  readonly punctuator: Punctuator;
  readonly nodeName: string;
  cancelled: boolean;
}

/**
 * The punctuators of one task for one kind of time. Like Kafka Streams, a punctuator that fell
 * behind fires once and then resumes on its interval: it does not fire once per missed interval.
 */
export class PunctuationQueue {
  private schedules: Schedule[] = [];

  schedule(firstAt: number, interval: number, punctuator: Punctuator, nodeName: string): Cancellable {
    if (!Number.isFinite(interval) || interval < 1) throw new RangeError(`punctuation interval must be at least 1 ms, got ${interval}`);
    const s: Schedule = { next: firstAt, interval, punctuator, nodeName, cancelled: false };
    this.schedules.push(s);
    return {
      cancel: () => {
        s.cancelled = true;
        this.schedules = this.schedules.filter((x) => x !== s);
      },
    };
  }

  get isEmpty(): boolean {
    return this.schedules.length === 0;
  }

  /** The earliest time a punctuator is due, or Infinity. */
  nextDue(): number {
    let min = Infinity;
    for (const s of this.schedules) if (s.next < min) min = s.next;
    return min;
  }

  /**
   * Runs every punctuator due at `now`; `run` wraps each call (error handling, context).
   * Returns whether any ran.
   */
  punctuate(now: number, run: (punctuator: Punctuator, timestamp: number, nodeName: string) => void): boolean {
    let ran = false;
    for (const s of [...this.schedules]) {
      if (s.cancelled || s.next > now) continue;
      const missed = Math.floor((now - s.next) / s.interval);
      s.next += (missed + 1) * s.interval;
      ran = true;
      run(s.punctuator, now, s.nodeName);
    }
    return ran;
  }
}
