/**
 * Joins against naive references, with fast-check:
 * - stream-stream join, leftJoin, outerJoin against a nested loop over all records, for records
 *   in order and out of order within the grace period (at small and at large time scales, so
 *   window-store segments roll);
 * - table-table joins with tombstones against the join of the two final tables, and a groupBy
 *   aggregation of the result (which needs correct old values) against a recount.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { app, JoinWindows, serdes, testTopology, type KeyValueStore } from '../../src/index.js';

const str = { key: serdes.string(), value: serdes.string() };
type Kind = 'join' | 'leftJoin' | 'outerJoin';

interface Rec {
  side: 'L' | 'R';
  key: string;
  value: string;
  ts: number;
}

const recordSteps = fc.array(
  fc.record({
    side: fc.constantFrom<'L' | 'R'>('L', 'R'),
    key: fc.constantFrom('a', 'b', 'c'),
    forward: fc.boolean(),
    step: fc.nat(4),
    back: fc.nat(20),
  }),
  { maxLength: 40 },
);

/** Timestamps: ahead of stream time by 0..4, or behind it by at most the grace. */
function toRecords(steps: { side: 'L' | 'R'; key: string; forward: boolean; step: number; back: number }[], graceMs: number, scale: number): Rec[] {
  let streamTime = 0;
  return steps.map((s, i) => {
    const ts = s.forward ? streamTime + s.step * scale : Math.max(0, streamTime - ((s.back * scale) % (graceMs + 1)));
    streamTime = Math.max(streamTime, ts);
    return { side: s.side, key: s.key, value: `${s.side}${i}`, ts };
  });
}

function reference(kind: Kind, records: Rec[], before: number, after: number): string[] {
  const out: string[] = [];
  const lefts = records.filter((r) => r.side === 'L');
  const rights = records.filter((r) => r.side === 'R');
  const matchedRight = new Set<Rec>();
  for (const l of lefts) {
    let matched = false;
    for (const r of rights) {
      if (r.key !== l.key || r.ts < l.ts - before || r.ts > l.ts + after) continue;
      matched = true;
      matchedRight.add(r);
      out.push(JSON.stringify([l.key, `${l.value}+${r.value}`, Math.max(l.ts, r.ts)]));
    }
    if (!matched && kind !== 'join') out.push(JSON.stringify([l.key, `${l.value}+null`, l.ts]));
  }
  if (kind === 'outerJoin') for (const r of rights) if (!matchedRight.has(r)) out.push(JSON.stringify([r.key, `null+${r.value}`, r.ts]));
  return out.sort();
}

function streamJoinApp(kind: Kind, windows: JoinWindows) {
  return app(`prop-${kind}`, (b) => {
    const left = b.stream('left', str);
    const right = b.stream('right', str);
    const joiner = (l: string | null, r: string | null) => `${l ?? 'null'}+${r ?? 'null'}`;
    (kind === 'join' ? left.join(right, joiner, windows) : kind === 'leftJoin' ? left.leftJoin(right, joiner, windows) : left.outerJoin(right, joiner, windows)).to('out', str);
  });
}

describe('stream-stream joins against a nested-loop reference', () => {
  for (const kind of ['join', 'leftJoin', 'outerJoin'] as const) {
    for (const scale of [1, 25_000]) {
      it(`${kind} (time scale ${scale})`, () => {
        fc.assert(
          fc.property(fc.nat(5), fc.nat(5), fc.nat(6), recordSteps, (b, a, g, steps) => {
            const [before, after, grace] = [b * scale, a * scale, g * scale];
            const windows = JoinWindows.ofTimeDifference(0).before(before).after(after).grace(grace);
            const records = toRecords(steps, grace, scale);
            const t = testTopology(streamJoinApp(kind, windows));
            for (const r of records) t.input(r.side === 'L' ? 'left' : 'right').pipe(r.key, r.value, { timestamp: r.ts });
            // A record on another key, late enough to close every window (it stays unmatched and held).
            const end = Math.max(0, ...records.map((r) => r.ts)) + before + after + grace + 1;
            t.input('left').pipe('flush', 'F', { timestamp: end });
            const actual = t
              .output('out', str)
              .readAll()
              .map((r) => JSON.stringify([r.key, r.value, r.timestamp]))
              .sort();
            assert.deepEqual(actual, reference(kind, records, before, after));
            assert.deepEqual(t.droppedRecords(), {});
          }),
          { numRuns: 200 },
        );
      });
    }
  }
});

type TableOp = { side: 'L' | 'R'; key: string; value: string | null };

const tableOps = fc.array(
  fc.record({
    side: fc.constantFrom<'L' | 'R'>('L', 'R'),
    key: fc.constantFrom('a', 'b', 'c', 'd'),
    value: fc.option(fc.constantFrom('x', 'y', 'xy', 'z'), { freq: 3 }),
  }),
  { maxLength: 40 },
);

describe('table-table joins against the join of the final tables', () => {
  for (const kind of ['join', 'leftJoin', 'outerJoin'] as const) {
    it(kind, () => {
      fc.assert(
        fc.property(tableOps, (ops: TableOp[]) => {
          const application = app(`tprop-${kind}`, (b) => {
            const left = b.table('left', str);
            const right = b.table('right', str);
            const joiner = (l: string | null, r: string | null) => `${l ?? '_'}${r ?? '_'}`;
            const options = { store: 'result', value: serdes.string() };
            const joined = kind === 'join' ? left.join(right, joiner, options) : kind === 'leftJoin' ? left.leftJoin(right, joiner, options) : left.outerJoin(right, joiner, options);
            joined.toStream().to('out', str);
            // Regroup the result by its first character: only correct if every update carried the right old value.
            joined
              .groupBy((_, v) => [v[0]!, v], { key: serdes.string(), value: serdes.string() })
              .aggregate(() => ({ n: 0, len: 0 }), (_k, v, a) => ({ n: a.n + 1, len: a.len + v.length }), (_k, v, a) => ({ n: a.n - 1, len: a.len - v.length }), {
                store: 'groups',
                value: serdes.json<{ n: number; len: number }>(),
              });
          });
          const t = testTopology(application);
          const finalL = new Map<string, string>();
          const finalR = new Map<string, string>();
          for (const op of ops) {
            t.input(op.side === 'L' ? 'left' : 'right').pipe(op.key, op.value);
            const m = op.side === 'L' ? finalL : finalR;
            if (op.value === null) m.delete(op.key);
            else m.set(op.key, op.value);
          }
          const expected = new Map<string, string>();
          for (const key of new Set([...finalL.keys(), ...finalR.keys()])) {
            const l = finalL.get(key);
            const r = finalR.get(key);
            const exists = kind === 'join' ? l !== undefined && r !== undefined : kind === 'leftJoin' ? l !== undefined : true;
            if (exists) expected.set(key, `${l ?? '_'}${r ?? '_'}`);
          }
          const stored = new Map([...t.store<KeyValueStore<string, string>>('result').all()].map((e) => [e.key, e.value]));
          assert.deepEqual(stored, expected);
          // The output changelog, read as a table, ends in the same state.
          assert.deepEqual(t.output('out', str).readKeyValuesToMap(), expected);
          const groups = new Map<string, { n: number; len: number }>();
          for (const v of expected.values()) {
            const g = groups.get(v[0]!) ?? { n: 0, len: 0 };
            groups.set(v[0]!, { n: g.n + 1, len: g.len + v.length });
          }
          const counted = new Map([...t.store<KeyValueStore<string, { n: number; len: number }>>('groups').all()].filter((e) => e.value.n !== 0).map((e) => [e.key, e.value]));
          assert.deepEqual(counted, groups);
        }),
        { numRuns: 150 },
      );
    });
  }
});
