import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { app, serdes, TopologyError } from '../../src/index.js';

const json = { key: serdes.string(), value: serdes.json<{ n: number }>() };

describe('topology compiler', () => {
  it('describes sub-topologies, sources, processors, sinks and internal topics like Kafka Streams', () => {
    const topology = app('desc', (b) => {
      b.stream('in', json)
        .filter((_, v) => v.n > 0)
        .selectKey((_, v) => String(v.n))
        .repartition({ name: 'by-n' })
        .to('out');
    }).topology();
    assert.equal(
      topology.describe(),
      [
        'Topologies:',
        '   Sub-topology: 0',
        '    Source: KSTREAM-SOURCE-0000000000 (topics: [in])',
        '      --> KSTREAM-FILTER-0000000001',
        '    Processor: KSTREAM-FILTER-0000000001 (stores: [])',
        '      --> KSTREAM-KEY-SELECT-0000000002',
        '      <-- KSTREAM-SOURCE-0000000000',
        '    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])',
        '      --> by-n-sink',
        '      <-- KSTREAM-FILTER-0000000001',
        '    Sink: by-n-sink (topic: desc-by-n-repartition)',
        '      <-- KSTREAM-KEY-SELECT-0000000002',
        '   Sub-topology: 1',
        '    Source: by-n-source (topics: [desc-by-n-repartition])',
        '      --> KSTREAM-SINK-0000000004',
        '    Sink: KSTREAM-SINK-0000000004 (topic: out)',
        '      <-- by-n-source',
        'Internal topics:',
        '    desc-by-n-repartition (repartition, partitions: as its input)',
        '',
      ].join('\n'),
    );
    assert.deepEqual(topology.sourceTopics, ['in']);
    assert.deepEqual(topology.sinkTopics, ['out']);
    const mermaid = topology.describe('mermaid');
    assert.match(mermaid, /^flowchart TD/);
    assert.match(mermaid, /subgraph sub1\["Sub-topology 1"\]/);
    assert.match(mermaid, /t_in --> n_KSTREAM_SOURCE_0000000000/);
    const dot = topology.describe('dot');
    assert.match(dot, /^digraph topology \{/);
    assert.match(dot, /"KSTREAM-SINK-0000000004" -> "topic:out";/);
  });

  it('a repartition topic takes the widest input partition count unless fixed', () => {
    const topology = app('parts', (b) => {
      const s = b.stream(['a', 'b'], json);
      s.repartition({ name: 'r1' }).to('x');
      s.repartition({ name: 'r2', partitions: 3 }).to('y');
    }).topology();
    const counts = topology.resolveInternalPartitions(new Map([['a', 2], ['b', 8]]));
    assert.equal(counts.get('parts-r1-repartition'), 8);
    assert.equal(counts.get('parts-r2-repartition'), 3);
  });

  it('refuses a name used twice', () => {
    assert.throws(
      () =>
        app('dup', (b) => {
          const s = b.stream('in', json);
          s.filter(() => true, { name: 'f' }).filter(() => true, { name: 'f' });
        }).topology(),
      (err: unknown) => err instanceof TopologyError && /the name 'f' is used twice/.test(err.message),
    );
  });

  it('refuses a topic read by two sources', () => {
    assert.throws(
      () =>
        app('twice', (b) => {
          b.stream('in', json).to('a');
          b.stream('in', json).to('b');
        }).topology(),
      /topic 'in' is already read by source/,
    );
  });

  it('refuses a topic read and written in a cycle, naming the loop', () => {
    assert.throws(() => app('loop1', (b) => b.stream('a', json).to('a')).topology(), /topics form a cycle: a -> a/);
    assert.throws(
      () =>
        app('loop2', (b) => {
          b.stream('a', json).to('b');
          b.stream('b', json).to('c');
          b.stream('c', json).to('a');
        }).topology(),
      /topics form a cycle: a -> b -> c -> a/,
    );
  });

  it('with default serdes switched off, a missing serde is an error that says how to give one', () => {
    assert.throws(
      () =>
        app('strict', (b) => b.stream('in', json).mapValues((v) => v.n).to('out'), { defaultKeySerde: null, defaultValueSerde: null }).topology(),
      (err: unknown) => err instanceof TopologyError && /to\('out'\) has no value serde/.test(err.message) && /serdes\.json\(\)/.test(err.message),
    );
    assert.throws(() => app('strict2', (b) => b.stream('in').to('out'), { defaultKeySerde: null }).topology(), /stream\('in'\) has no key serde/);
  });

  it('refuses bad names, empty topologies and bad application ids', () => {
    assert.throws(() => app('bad id!', () => {}), /application id must be/);
    assert.throws(() => app('empty', () => {}).topology(), /defines no streams/);
    assert.throws(() => app('badtopic', (b) => b.stream('no spaces', json)).topology(), /not a valid topic name/);
    assert.throws(() => app('split', (b) => {
      const s = b.stream('in', json).split();
      s.branch(() => true, 'x').branch(() => false, 'x');
    }).topology(), /branch name 'x' is used twice/);
  });

  it('each call of topology() builds a fresh, equal topology', () => {
    const a = app('fresh', (b) => b.stream('in', json).to('out'));
    assert.equal(a.topology().describe(), a.topology().describe());
    assert.notEqual(a.topology(), a.topology());
  });
});
