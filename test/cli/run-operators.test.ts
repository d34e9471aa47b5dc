/**
 * Every stateless operator through `tributary run` on the embedded log, compared record for
 * record (as multisets per topic) with testTopology on the same input.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { serdes, testTopology } from '../../src/index.js';
import allOperators, { type Event } from '../fixtures/topologies/all-operators.js';
import { runCli, tempDir } from '../helpers/cli.js';

const input: [string, Event][] = Array.from({ length: 300 }, (_, i) => [`k${i % 17}`, { user: `u${(i * 7) % 5}`, n: i, tags: ['a', 'b', 'c'].slice(0, i % 4) }]);

function lines(records: { key: unknown; value: unknown }[]): string[] {
  return records.map((r) => JSON.stringify([r.key, r.value])).sort();
}

describe('every operator through `tributary run`', () => {
  const dir = tempDir('tributary-ops-');
  after(() => dir.remove());

  it('gives the same output as testTopology', async () => {
    const t = testTopology(allOperators);
    input.forEach(([k, v], i) => t.input('events').pipe(k, v, { timestamp: i }));
    const expected = {
      positive: lines(t.output('positive', { value: serdes.int32() }).readAll()),
      negative: lines(t.output('negative', { value: serdes.int32() }).readAll()),
      tagged: lines(t.output('tagged').readAll().map((r) => ({ key: r.key, value: { ...r.value, offset: undefined } }))),
    };
    assert.ok(expected.positive.length > 100);

    const state = ['--state-dir', dir.path];
    assert.equal((await runCli(['topics', ...state, '--create', 'events', '--partitions', '4'])).code, 0);
    const jsonl = input.map(([key, value], i) => JSON.stringify({ key, value, timestamp: i })).join('\n') + '\n';
    assert.equal((await runCli(['produce', 'events', ...state], { input: jsonl })).code, 0);
    const run = await runCli(['run', 'test/fixtures/topologies/all-operators.ts', ...state, '--until-idle', '--idle-ms', '300', '--log-level', 'warn']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /records in: {2}300/);

    const tail = async (topic: string, valueSerde: string) => {
      const r = await runCli(['tail', topic, ...state, '--from-beginning', '--exit-at-end', '--value-serde', valueSerde]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: unknown; value: unknown });
    };
    assert.deepEqual(lines(await tail('positive', 'int32')), expected.positive);
    assert.deepEqual(lines(await tail('negative', 'int32')), expected.negative);
    // Offsets differ between 1 and 4 partitions; everything else must match.
    const tagged = (await tail('tagged', 'json')).map((r) => ({ key: r.key, value: { ...(r.value as object), offset: undefined } }));
    assert.deepEqual(lines(tagged), expected.tagged);
  });
});
