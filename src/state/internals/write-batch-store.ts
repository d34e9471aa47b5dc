import BTreeModule from 'sorted-btree';
import type { BytesEntry, KeyRange, KeyValueBytesStore, RangeDelete, StoreWrite } from '../backend/types.js';

// sorted-btree ships CommonJS with the class as its default export.
type BTreeClass = typeof BTreeModule.default;
const BTree: BTreeClass = (BTreeModule as unknown as { default?: BTreeClass }).default ?? (BTreeModule as unknown as BTreeClass);
type Overlay = BTreeModule.default<Buffer, Buffer | null>;

/**
 * A task's uncommitted writes to one store, over the committed store below it. Reads see
 * these writes first (read-your-writes); each key is kept once (the last write wins), which is
 * also what goes to the changelog. At commit the batch is drained into one atomic backend write.
 */
export class WriteBatchStore {
  /** Physical key -> new value, or null for a delete. Ordered, so ranges merge in one pass. */
  private readonly overlay: Overlay = new BTree<Buffer, Buffer | null>(undefined, Buffer.compare);
  private pendingRangeDeletes: RangeDelete[] = [];
  /**
   * Committed values read or written recently (undefined = known absent), so hot keys do not
   * go to the backend on every record. Bounded; the oldest entries leave first.
   */
  private readonly cache = new Map<string, Buffer | undefined>();

  constructor(
    readonly name: string,
    private readonly committed: KeyValueBytesStore,
    private readonly cacheEntries = 50_000,
  ) {}

  get size(): number {
    return this.overlay.size;
  }

  /** Committed count plus keys this batch writes (deletes and overwrites make it an estimate). */
  approximateCount(): number {
    return this.committed.approximateCount() + this.overlay.size;
  }

  get(key: Buffer): Buffer | undefined {
    const v = this.overlay.get(key);
    if (v !== undefined) return v === null ? undefined : v;
    if (this.pendingRangeDeletes.length > 0 && this.inDeletedRange(key)) return undefined;
    if (this.cacheEntries === 0) return this.committed.get(key);
    const id = key.toString('latin1');
    if (this.cache.has(id)) return this.cache.get(id);
    const value = this.committed.get(key);
    this.remember(id, value);
    return value;
  }

  private remember(id: string, value: Buffer | undefined): void {
    if (this.cache.size >= this.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, value);
  }

  put(key: Buffer, value: Buffer | null): void {
    this.overlay.set(key, value);
  }

  /** Drops every key in [from, to), e.g. an expired segment of a window store. */
  deleteRange(from: Buffer, to: Buffer): void {
    this.pendingRangeDeletes.push({ store: this.name, from, to });
    const doomed: Buffer[] = [];
    this.overlay.forRange(from, to, false, (k: Buffer) => {
      doomed.push(k);
    });
    for (const k of doomed) this.overlay.delete(k);
  }

  /** Ordered scan over the committed store with this batch laid on top. */
  *range(range: KeyRange = {}): IterableIterator<BytesEntry> {
    const reverse = range.reverse === true;
    const limit = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    if (limit === 0) return;
    const inBounds = (k: Buffer) =>
      (range.gte === undefined || Buffer.compare(k, range.gte) >= 0) &&
      (range.gt === undefined || Buffer.compare(k, range.gt) > 0) &&
      (range.lte === undefined || Buffer.compare(k, range.lte) <= 0) &&
      (range.lt === undefined || Buffer.compare(k, range.lt) < 0);
    const mine: [Buffer, Buffer | null][] = [];
    if (this.overlay.size > 0) {
      const low = range.gte ?? range.gt;
      for (const entry of this.overlay.entries(low)) {
        if (!inBounds(entry[0])) {
          if ((range.lte !== undefined && Buffer.compare(entry[0], range.lte) > 0) || (range.lt !== undefined && Buffer.compare(entry[0], range.lt) >= 0)) break;
          continue;
        }
        mine.push(entry);
      }
      if (reverse) mine.reverse();
    }
    const { limit: _limit, ...unlimited } = range;
    const below = this.committed.range(unlimited)[Symbol.iterator]();
    let i = 0;
    let next = below.next();
    let emitted = 0;
    const before = (a: Buffer, b: Buffer) => (reverse ? Buffer.compare(a, b) > 0 : Buffer.compare(a, b) < 0);
    try {
      while (emitted < limit) {
        const fromBelow = next.done ? undefined : next.value;
        const fromMine = i < mine.length ? mine[i] : undefined;
        if (fromBelow === undefined && fromMine === undefined) return;
        if (fromMine !== undefined && (fromBelow === undefined || !before(fromBelow.key, fromMine[0]))) {
          // Ours wins on equal keys, and hides the committed value.
          if (fromBelow !== undefined && Buffer.compare(fromBelow.key, fromMine[0]) === 0) next = below.next();
          i++;
          if (fromMine[1] !== null) {
            emitted++;
            yield { key: fromMine[0], value: fromMine[1] };
          }
        } else {
          next = below.next();
          if (this.pendingRangeDeletes.length > 0 && this.inDeletedRange(fromBelow!.key)) continue;
          emitted++;
          yield fromBelow!;
        }
      }
    } finally {
      below.return?.();
    }
  }

  /** The batch as backend writes and range deletes; the batch is empty afterwards. */
  drain(): { writes: StoreWrite[]; rangeDeletes: RangeDelete[] } {
    const writes: StoreWrite[] = [];
    this.overlay.forEachPair((key: Buffer, value: Buffer | null) => {
      writes.push({ store: this.name, key, value });
    });
    const rangeDeletes = this.pendingRangeDeletes;
    if (this.cacheEntries > 0) {
      // What is drained becomes the committed state: keep it warm.
      if (rangeDeletes.length > 0) this.cache.clear();
      for (const w of writes) {
        const id = w.key.toString('latin1');
        this.cache.delete(id);
        this.remember(id, w.value ?? undefined);
      }
    }
    this.overlay.clear();
    this.pendingRangeDeletes = [];
    return { writes, rangeDeletes };
  }

  /** Entries written since the last drain (for the changelog), without draining. */
  forEachPending(fn: (key: Buffer, value: Buffer | null) => void): void {
    this.overlay.forEachPair((k: Buffer, v: Buffer | null) => {
      fn(k, v);
    });
  }

  discard(): void {
    this.overlay.clear();
    this.pendingRangeDeletes = [];
  }

  private inDeletedRange(key: Buffer): boolean {
    for (const d of this.pendingRangeDeletes) if (Buffer.compare(key, d.from) >= 0 && Buffer.compare(key, d.to) < 0) return true;
    return false;
  }
}
