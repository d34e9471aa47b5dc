import { TopologyError } from '../errors/index.js';

function checkMs(what: string, ms: number, min = 0): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < min) throw new TopologyError(`${what} must be an integer number of ms >= ${min}, got ${String(ms)}`);
  return ms;
}

/**
 * Fixed-size windows aligned to the epoch: tumbling (advance = size) or hopping (advance <
 * size). A record belongs to every window with start <= timestamp < start + size. Records
 * more than `grace` ms behind stream time for a window are late and dropped. Grace defaults
 * to 0, as Kafka Streams' `ofSizeWithNoGrace`.
 *
 * @example TimeWindows.ofSize(60_000).advanceBy(10_000).grace(5_000)
 */
export class TimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly advanceMs: number,
    readonly graceMs: number,
  ) {}

  static ofSize(sizeMs: number): TimeWindows {
    checkMs('TimeWindows size', sizeMs, 1);
    return new TimeWindows(sizeMs, sizeMs, 0);
  }

  /** Hopping windows: a new window every `advanceMs` (at most the size). */
  advanceBy(advanceMs: number): TimeWindows {
    checkMs('TimeWindows advance', advanceMs, 1);
    if (advanceMs > this.sizeMs) throw new TopologyError(`TimeWindows advance (${advanceMs} ms) must not exceed the size (${this.sizeMs} ms)`);
    return new TimeWindows(this.sizeMs, advanceMs, this.graceMs);
  }

  grace(graceMs: number): TimeWindows {
    return new TimeWindows(this.sizeMs, this.advanceMs, checkMs('TimeWindows grace', graceMs));
  }

  /** Starts of the windows a timestamp falls in, oldest first. */
  windowStartsFor(timestamp: number): number[] {
    const first = Math.max(0, Math.floor((timestamp - this.sizeMs) / this.advanceMs) + 1);
    const last = Math.floor(timestamp / this.advanceMs);
    const out: number[] = [];
    for (let k = first; k <= last; k++) out.push(k * this.advanceMs);
    return out;
  }
}

/**
 * Windows of a fixed size that slide with the records: two records fall in a common window
 * when their timestamps differ by at most `timeDifferenceMs` (Kafka Streams' SlidingWindows).
 */
export class SlidingWindows {
  private constructor(
    readonly timeDifferenceMs: number,
    readonly graceMs: number,
  ) {}

  static ofTimeDifference(timeDifferenceMs: number): SlidingWindows {
    return new SlidingWindows(checkMs('SlidingWindows time difference', timeDifferenceMs, 1), 0);
  }

  grace(graceMs: number): SlidingWindows {
    return new SlidingWindows(this.timeDifferenceMs, checkMs('SlidingWindows grace', graceMs));
  }
}

/** Sessions: bursts of records of a key with gaps of at most `inactivityGapMs` between them. */
export class SessionWindows {
  private constructor(
    readonly inactivityGapMs: number,
    readonly graceMs: number,
  ) {}

  static ofInactivityGap(inactivityGapMs: number): SessionWindows {
    return new SessionWindows(checkMs('SessionWindows inactivity gap', inactivityGapMs, 1), 0);
  }

  grace(graceMs: number): SessionWindows {
    return new SessionWindows(this.inactivityGapMs, checkMs('SessionWindows grace', graceMs));
  }
}

/**
 * How close in time two records of a stream-stream join must be: |t1 - t2| <= timeDifference
 * (or before/after bounds), with a grace period for out-of-order records.
 */
export class JoinWindows {
  private constructor(
    readonly beforeMs: number,
    readonly afterMs: number,
    readonly graceMs: number,
  ) {}

  static ofTimeDifference(timeDifferenceMs: number): JoinWindows {
    const ms = checkMs('JoinWindows time difference', timeDifferenceMs);
    return new JoinWindows(ms, ms, 0);
  }

  /** Other-side records may be up to `ms` earlier than this side's. */
  before(ms: number): JoinWindows {
    return new JoinWindows(checkMs('JoinWindows before', ms), this.afterMs, this.graceMs);
  }

  /** Other-side records may be up to `ms` later than this side's. */
  after(ms: number): JoinWindows {
    return new JoinWindows(this.beforeMs, checkMs('JoinWindows after', ms), this.graceMs);
  }

  grace(graceMs: number): JoinWindows {
    return new JoinWindows(this.beforeMs, this.afterMs, checkMs('JoinWindows grace', graceMs));
  }
}
