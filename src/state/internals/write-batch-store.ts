import BTreeModule from 'sorted-btree';
import type { BytesEntry, KeyRange, KeyValueBytesStore, RangeDelete, StoreWrite } from '../backend/types.js';
import { IllegalStateError } from '../../errors/index.js';

// sorted-btree ships CommonJS with the class as its default export.
type BTreeClass = typeof BTreeModule.default;
const BTree: BTreeClass = (BTreeModule as unknown as { default?: BTreeClass }).default ?? (BTreeModule as unknown as BTreeClass);
/** Keys as latin1 strings: one char per byte, so string order is byte order (Buffer.compare). */
type Overlay = BTreeModule.default<string, Buffer | null>;
// compared in JavaScript: a Buffer.compare per tree level cost more than the key's toString
const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const newOverlay = (): Overlay => new BTree<string, Buffer | null>(undefined, compareIds);
const idOf = (key: Buffer): string => key.toString('latin1');
const keyOf = (id: string): Buffer => Buffer.from(id, 'latin1');

/**
 * A task's uncommitted writes to one store, over the committed store below it. Reads see
 * these writes first (read-your-writes); each key is kept once (the last write wins), which is
 * also what goes to the changelog. At commit the batch is drained into one atomic backend write.
 *
 * A commit takes two steps so that processing can go on while it is in flight: seal() sets the
 * writes so far aside (they go to the changelog and, once the transaction committed, to the
 * backend through drainSealed()); writes after it land in a fresh batch. Reads look at the fresh
 * batch, then the sealed one, then the committed store.
 */
export class WriteBatchStore {
  /** Physical key (as latin1) -> new value, or null for a delete. Ordered, so ranges merge in one pass. */
  private overlay: Overlay = newOverlay();
  private pendingRangeDeletes: RangeDelete[] = [];
  /** Writes of the commit in flight: sealed, not yet in the committed store. */
  private sealedOverlay: Overlay | undefined;
  private sealedRangeDeletes: RangeDelete[] = [];
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

  /** Keys written before the last seal(), waiting for drainSealed(). */
  get sealedSize(): number {
    return this.sealedOverlay?.size ?? 0;
  }

  /** Committed count plus keys this batch writes (deletes and overwrites make it an estimate). */
  approximateCount(): number {
    return this.committed.approximateCount() + this.overlay.size + this.sealedSize;
  }

  get(key: Buffer): Buffer | undefined {
    const id = idOf(key);
    const v = this.overlay.get(id);
    if (v !== undefined) return v === null ? undefined : v;
    if (this.pendingRangeDeletes.length > 0 && inRanges(key, this.pendingRangeDeletes)) return undefined;
    if (this.sealedOverlay !== undefined) {
      const sealed = this.sealedOverlay.get(id);
      if (sealed !== undefined) return sealed === null ? undefined : sealed;
      if (this.sealedRangeDeletes.length > 0 && inRanges(key, this.sealedRangeDeletes)) return undefined;
    }
    if (this.cacheEntries === 0) return this.committed.get(key);
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
    this.overlay.set(idOf(key), value);
  }

  /** Drops every key in [from, to), e.g. an expired segment of a window store. */
  deleteRange(from: Buffer, to: Buffer): void {
    this.pendingRangeDeletes.push({ store: this.name, from, to });
    const doomed: string[] = [];
    this.overlay.forRange(idOf(from), idOf(to), false, (k: string) => {
      doomed.push(k);
    });
    for (const k of doomed) this.overlay.delete(k);
  }

  /** Ordered scan over the committed store with this batch laid on top. */
  *range(range: KeyRange = {}): IterableIterator<BytesEntry> {
    const reverse = range.reverse === true;
    const limit = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    if (limit === 0) return;
    const gte = range.gte === undefined ? undefined : idOf(range.gte);
    const gt = range.gt === undefined ? undefined : idOf(range.gt);
    const lte = range.lte === undefined ? undefined : idOf(range.lte);
    const lt = range.lt === undefined ? undefined : idOf(range.lt);
    const inRange = (overlay: Overlay | undefined): [string, Buffer | null][] => {
      const out: [string, Buffer | null][] = [];
      if (overlay === undefined || overlay.size === 0) return out;
      for (const entry of overlay.entries(gte ?? gt)) {
        const k = entry[0];
        if ((lte !== undefined && k > lte) || (lt !== undefined && k >= lt)) break;
        if ((gte !== undefined && k < gte) || (gt !== undefined && k <= gt)) continue;
        out.push(entry);
      }
      return out;
    };
    const mine: [Buffer, Buffer | null][] = this.mergeSealed(inRange(this.overlay), inRange(this.sealedOverlay)).map(([id, v]) => [keyOf(id), v]);
    if (reverse) mine.reverse();
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
          if (this.isDeletedBelow(fromBelow!.key)) continue;
          emitted++;
          yield fromBelow!;
        }
      }
    } finally {
      below.return?.();
    }
  }

  /**
   * Sets the writes so far aside for the commit being made; later writes start a fresh batch.
   * The sealed writes must be drained (the commit succeeded) or discarded before the next seal.
   */
  seal(): void {
    if (this.sealedOverlay !== undefined) throw new IllegalStateError(`store '${this.name}': a commit is already in flight (sealed writes not drained)`);
    this.sealedOverlay = this.overlay;
    this.sealedRangeDeletes = this.pendingRangeDeletes;
    this.overlay = newOverlay();
    this.pendingRangeDeletes = [];
  }

  /** The sealed writes as backend writes and range deletes; they count as committed afterwards. */
  drainSealed(): { writes: StoreWrite[]; rangeDeletes: RangeDelete[] } {
    const writes: StoreWrite[] = [];
    const rangeDeletes = this.sealedRangeDeletes;
    // What is drained becomes the committed state: keep it warm.
    const warm = this.cacheEntries > 0;
    if (warm && rangeDeletes.length > 0) this.cache.clear();
    this.sealedOverlay?.forEachPair((id: string, value: Buffer | null) => {
      writes.push({ store: this.name, key: keyOf(id), value });
      if (warm) {
        this.cache.delete(id);
        this.remember(id, value ?? undefined);
      }
    });
    this.sealedOverlay = undefined;
    this.sealedRangeDeletes = [];
    return { writes, rangeDeletes };
  }

  /** Every write so far as backend writes and range deletes (seal + drainSealed); the batch is empty afterwards. */
  drain(): { writes: StoreWrite[]; rangeDeletes: RangeDelete[] } {
    this.seal();
    return this.drainSealed();
  }

  /** Entries sealed for the commit in flight (for the changelog), without draining. */
  forEachSealed(fn: (key: Buffer, value: Buffer | null) => void): void {
    this.sealedOverlay?.forEachPair((id: string, v: Buffer | null) => {
      fn(keyOf(id), v);
    });
  }

  /** Drops every uncommitted write, sealed or not. */
  discard(): void {
    this.overlay.clear();
    this.pendingRangeDeletes = [];
    this.sealedOverlay = undefined;
    this.sealedRangeDeletes = [];
  }

  /** The current batch's entries over the sealed one's (ascending): the current one wins a key. */
  private mergeSealed(current: [string, Buffer | null][], sealed: [string, Buffer | null][]): [string, Buffer | null][] {
    if (sealed.length === 0) return current;
    const visible = this.pendingRangeDeletes.length === 0 ? sealed : sealed.filter((e) => !inRanges(keyOf(e[0]), this.pendingRangeDeletes));
    if (current.length === 0) return visible;
    const out: [string, Buffer | null][] = [];
    let i = 0;
    let j = 0;
    while (i < current.length || j < visible.length) {
      if (j === visible.length) out.push(current[i++]!);
      else if (i === current.length) out.push(visible[j++]!);
      else {
        const c = compareIds(current[i]![0], visible[j]![0]);
        if (c <= 0) {
          if (c === 0) j++;
          out.push(current[i++]!);
        } else out.push(visible[j++]!);
      }
    }
    return out;
  }

  /** A committed key hidden by a range delete of the current or the sealed batch. */
  private isDeletedBelow(key: Buffer): boolean {
    return (this.pendingRangeDeletes.length > 0 && inRanges(key, this.pendingRangeDeletes)) || (this.sealedRangeDeletes.length > 0 && inRanges(key, this.sealedRangeDeletes));
  }
}

function inRanges(key: Buffer, ranges: readonly RangeDelete[]): boolean {
  for (const d of ranges) if (Buffer.compare(key, d.from) >= 0 && Buffer.compare(key, d.to) < 0) return true;
  return false;
}
