/**
 * What the backends share: argument checks (done before anything is applied), key-range
 * normalisation, and the one-at-a-time queue of writes.
 */
import { ClosedError } from '../../errors/index.js';
import type { KeyRange, RangeDelete, StoreWrite } from './types.js';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `a ${value.constructor.name}`;
  return typeof value;
}

/** Throws a TypeError unless `value` is a Buffer. */
export function assertBuffer(value: unknown, what: string): asserts value is Buffer {
  if (!Buffer.isBuffer(value)) {
    throw new TypeError(`${what} must be a Buffer, got ${describe(value)} (state stores hold bytes: serialize first, or wrap with Buffer.from())`);
  }
}

/** Throws a TypeError unless `name` is a non-empty string. */
export function assertStoreName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`a store name must be a non-empty string, got ${typeof name === 'string' ? "''" : describe(name)}`);
  }
}

/** Checks every argument of TaskStateBackend.write(), so that a bad one changes nothing. */
export function checkWriteArguments(
  writes: readonly StoreWrite[],
  rangeDeletes: readonly RangeDelete[],
  checkpoints: Readonly<Record<string, number>>,
): void {
  if (!Array.isArray(writes)) throw new TypeError(`write(): writes must be an array, got ${describe(writes)}`);
  if (!Array.isArray(rangeDeletes)) throw new TypeError(`write(): rangeDeletes must be an array, got ${describe(rangeDeletes)}`);
  if (checkpoints === null || typeof checkpoints !== 'object') throw new TypeError(`write(): checkpoints must be an object, got ${describe(checkpoints)}`);
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]!;
    assertStoreName(w.store);
    assertBuffer(w.key, `write(): key of writes[${i}] (store '${w.store}')`);
    if (w.value !== null) assertBuffer(w.value, `write(): value of writes[${i}] (store '${w.store}'; null deletes)`);
  }
  for (let i = 0; i < rangeDeletes.length; i++) {
    const d = rangeDeletes[i]!;
    assertStoreName(d.store);
    assertBuffer(d.from, `write(): from of rangeDeletes[${i}] (store '${d.store}')`);
    assertBuffer(d.to, `write(): to of rangeDeletes[${i}] (store '${d.store}')`);
  }
  for (const [changelog, offset] of Object.entries(checkpoints)) {
    if (changelog.length === 0) throw new TypeError('write(): a checkpoint needs a non-empty changelog name');
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new TypeError(`write(): checkpoint of '${changelog}' must be a non-negative integer offset, got ${String(offset)}`);
    }
  }
}

/**
 * A KeyRange reduced to at most one bound per side. `empty` when no key can be in it (or the
 * limit is 0); `limit` is Infinity when there is none.
 */
export interface NormalizedRange {
  lower: Buffer | undefined;
  lowerInclusive: boolean;
  upper: Buffer | undefined;
  upperInclusive: boolean;
  reverse: boolean;
  limit: number;
  empty: boolean;
}

/** Shape index of a normalized range, 0..17: lower (none, gte, gt) x upper (none, lte, lt) x direction. */
export function rangeShape(r: NormalizedRange): number {
  const lower = r.lower === undefined ? 0 : r.lowerInclusive ? 1 : 2;
  const upper = r.upper === undefined ? 0 : r.upperInclusive ? 1 : 2;
  return (lower * 3 + upper) * 2 + (r.reverse ? 1 : 0);
}

export function normalizeRange(range: KeyRange | undefined, store: string): NormalizedRange {
  const out: NormalizedRange = {
    lower: undefined,
    lowerInclusive: true,
    upper: undefined,
    upperInclusive: true,
    reverse: false,
    limit: Infinity,
    empty: false,
  };
  if (range === undefined || range === null) return out;
  if (typeof range !== 'object') throw new TypeError(`range of store '${store}' must be an object of bounds, got ${describe(range)}`);
  const { gte, gt, lte, lt, reverse, limit } = range;
  if (gte !== undefined) assertBuffer(gte, `range bound gte (store '${store}')`);
  if (gt !== undefined) assertBuffer(gt, `range bound gt (store '${store}')`);
  if (lte !== undefined) assertBuffer(lte, `range bound lte (store '${store}')`);
  if (lt !== undefined) assertBuffer(lt, `range bound lt (store '${store}')`);
  if (gt !== undefined && (gte === undefined || Buffer.compare(gt, gte) >= 0)) {
    out.lower = gt;
    out.lowerInclusive = false;
  } else if (gte !== undefined) {
    out.lower = gte;
  }
  if (lt !== undefined && (lte === undefined || Buffer.compare(lt, lte) <= 0)) {
    out.upper = lt;
    out.upperInclusive = false;
  } else if (lte !== undefined) {
    out.upper = lte;
  }
  out.reverse = reverse === true;
  if (limit !== undefined) {
    if (typeof limit !== 'number' || Number.isNaN(limit) || (Number.isFinite(limit) && !Number.isInteger(limit))) {
      throw new TypeError(`range limit (store '${store}') must be an integer, Infinity or -1, got ${String(limit)}`);
    }
    if (limit >= 0) out.limit = limit;
  }
  if (out.limit === 0) out.empty = true;
  if (out.lower !== undefined && out.upper !== undefined) {
    const c = Buffer.compare(out.lower, out.upper);
    if (c > 0 || (c === 0 && !(out.lowerInclusive && out.upperInclusive))) out.empty = true;
  }
  return out;
}

/** Whether `key` is within the lower bound of `r`. */
export function aboveLower(r: NormalizedRange, key: Buffer): boolean {
  if (r.lower === undefined) return true;
  const c = Buffer.compare(key, r.lower);
  return r.lowerInclusive ? c >= 0 : c > 0;
}

/** Whether `key` is within the upper bound of `r`. */
export function belowUpper(r: NormalizedRange, key: Buffer): boolean {
  if (r.upper === undefined) return true;
  const c = Buffer.compare(key, r.upper);
  return r.upperInclusive ? c <= 0 : c < 0;
}

/** Runs a backend's writes one after another in call order, and tells close() when they are done. */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves when every write queued so far has finished (either way). */
  drain(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

export function closedError(kind: string, what: string): ClosedError {
  return new ClosedError(`${what}: the ${kind} state backend is closed`);
}
