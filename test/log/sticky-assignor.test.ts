import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { assignUnits, type AssignorMember, type AssignorUnit } from '../../src/log/kafka/sticky-assignor.js';

function units(groups: number, partitions: number): AssignorUnit[] {
  const out: AssignorUnit[] = [];
  for (let g = 0; g < groups; g++) for (let p = 0; p < partitions; p++) out.push({ id: `${g}_${p}`, group: String(g) });
  return out;
}

const member = (id: string, active: string[] = [], standby: string[] = []): AssignorMember => ({ id, active: new Set(active), standby: new Set(standby) });

const loads = (a: Map<string, string[]>) => [...a.values()].map((l) => l.length);

test('every unit goes to exactly one member, loads differ by at most one', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 7 }), fc.integer(), (groups, partitions, memberCount, seed) => {
      const all = units(groups, partitions);
      // random previous ownership: each unit active on some member or none, standby anywhere
      let s = seed >>> 0;
      const next = () => (s = (s * 1103515245 + 12345) >>> 0) % 1000;
      const members = Array.from({ length: memberCount }, (_, i) => member(`m${i}`, [], []));
      for (const u of all) {
        const r = next() % (memberCount + 1);
        if (r < memberCount) (members[r]!.active as Set<string>).add(u.id);
        const sb = next() % (memberCount + 1);
        if (sb < memberCount) (members[sb]!.standby as Set<string>).add(u.id);
      }
      const a = assignUnits(all, members);
      const given = [...a.values()].flat();
      assert.equal(given.length, all.length);
      assert.deepEqual(new Set(given), new Set(all.map((u) => u.id)));
      const l = loads(a);
      assert.ok(Math.max(...l) - Math.min(...l) <= 1, `loads ${l.join(',')}`);
      assert.equal(a.size, memberCount);
    }),
  );
});

test('a stable group keeps its assignment (sticky), and the same input gives the same answer', () => {
  const all = units(2, 8);
  const first = assignUnits(all, [member('a'), member('b'), member('c')]);
  const members = [...first].map(([id, list]) => member(id, list));
  const second = assignUnits(all, members);
  assert.deepEqual(second, first);
  assert.deepEqual(assignUnits(all, [...members].reverse()), first);
});

test('a new member takes only its share; the others keep the rest of theirs', () => {
  const all = units(1, 8);
  const before = assignUnits(all, [member('a'), member('b')]);
  const after = assignUnits(all, [member('a', before.get('a')), member('b', before.get('b')), member('c')]);
  assert.deepEqual(loads(after).sort(), [2, 3, 3]);
  for (const id of ['a', 'b']) {
    const kept = after.get(id)!.filter((u) => before.get(id)!.includes(u));
    assert.equal(kept.length, after.get(id)!.length, `${id} only keeps units it had`);
  }
});

test('units go to a member with their state on disk before anyone else', () => {
  const all = units(1, 4);
  const a = assignUnits(all, [member('a', [], ['0_2', '0_3']), member('b', [], ['0_0', '0_1'])]);
  assert.deepEqual(a.get('a'), ['0_2', '0_3']);
  assert.deepEqual(a.get('b'), ['0_0', '0_1']);
});

test("a sub-topology's units are spread across members", () => {
  const a = assignUnits(units(2, 2), [member('a'), member('b')]);
  for (const list of a.values()) assert.deepEqual(list.map((u) => u.split('_')[0]).sort(), ['0', '1']);
});
