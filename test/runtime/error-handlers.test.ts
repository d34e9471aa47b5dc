import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { app, DEAD_LETTER_HEADERS, ProcessingError, SerdeError, serdes, testTopology, type ErrorHandling } from '../../src/index.js';

const raw = { key: serdes.string(), value: serdes.bytes() };

function topology(handling: { deserialization?: ErrorHandling; processing?: ErrorHandling }) {
  return app(
    'errors',
    (b) => {
      b.stream('in', { value: serdes.json<{ n: number }>() })
        .flatMapValues((v) => {
          if (v.n < 0) throw new Error(`negative: ${v.n}`);
          return [v.n, v.n * 10];
        })
        .to('out', { value: serdes.int32() });
    },
    { errors: handling },
  );
}

describe('error handlers', () => {
  it("'fail' stops with an error naming topic, partition, offset and the way out", () => {
    const t = testTopology(topology({}));
    const input = t.input('in', raw);
    input.pipe('a', Buffer.from('{"n":1}'));
    assert.throws(
      () => input.pipe('b', Buffer.from('{not json')),
      (err: unknown) =>
        err instanceof SerdeError &&
        /record in-0@1 \(topic 'in', partition 0, offset 1\)/.test(err.message) &&
        /invalid JSON/.test(err.message) &&
        /errors\.deserialization/.test(err.message),
    );
    const t2 = testTopology(topology({}));
    assert.throws(() => t2.input('in').pipe('c', { n: -1 }), (err: unknown) => err instanceof ProcessingError && /negative: -1/.test(err.message));
  });

  it("'continue' skips bad records, counts them, and keeps going", () => {
    const t = testTopology(topology({ deserialization: 'continue', processing: 'continue' }));
    t.input('in', raw).pipe('a', Buffer.from('oops'));
    t.input('in').pipe('b', { n: -5 });
    t.input('in').pipe('c', { n: 2 });
    assert.deepEqual(t.output('out').readValues(), [2, 20]);
    assert.deepEqual(t.droppedRecords(), { 'deserialization-error': 1, 'processing-error': 1 });
  });

  it('a dead-letter topic gets the original bytes with the error in headers, and no partial output leaks', () => {
    const t = testTopology(
      app(
        'dlq',
        (b) => {
          b.stream('in', { value: serdes.json<{ n: number }>() })
            .flatMapValues((v) => {
              const out = [v.n];
              if (v.n === 13) throw new Error('unlucky');
              return out;
            })
            .process(() => {
              let ctx: import('../../src/index.js').ProcessorContext<string, number>;
              return {
                init: (c) => (ctx = c),
                process: (r) => {
                  ctx.forward(r);
                  if (r.value === 7) throw new Error('seven after forward');
                },
              };
            })
            .to('out', { value: serdes.int32() });
        },
        { errors: { deserialization: { deadLetterTopic: 'dead' }, processing: { deadLetterTopic: 'dead' } } },
      ),
    );
    t.input('in', raw).pipe('k1', Buffer.from('garbage'), { headers: { trace: 't1' } });
    t.input('in').pipe('k2', { n: 7 });
    t.input('in').pipe('k3', { n: 13 });
    t.input('in').pipe('k4', { n: 1 });
    // The record that threw after forwarding (7) left nothing in 'out'.
    assert.deepEqual(t.output('out').readKeyValues(), [['k4', 1]]);
    const dead = t.output('dead', raw).readAll();
    assert.deepEqual(dead.map((r) => r.key), ['k1', 'k2', 'k3']);
    assert.equal(dead[0]!.value!.toString(), 'garbage');
    const h = (i: number, name: string) => dead[i]!.headers[name]!.toString();
    assert.equal(h(0, DEAD_LETTER_HEADERS.stage), 'deserialization');
    assert.equal(h(0, 'trace'), 't1');
    assert.equal(h(1, DEAD_LETTER_HEADERS.stage), 'processing');
    assert.equal(h(1, DEAD_LETTER_HEADERS.message), 'seven after forward');
    assert.equal(h(2, DEAD_LETTER_HEADERS.message), 'unlucky');
    assert.equal(h(2, DEAD_LETTER_HEADERS.topic), 'in');
    assert.equal(h(2, DEAD_LETTER_HEADERS.partition), '0');
    assert.equal(h(2, DEAD_LETTER_HEADERS.offset), '2');
  });

  it('a value the sink serde cannot write is a processing error, not a silent drop', () => {
    const t = testTopology(app('sink-serde', (b) => b.stream('in', { value: serdes.json<{ n: number }>() }).mapValues((v) => v.n + 0.5).to('out', { value: serdes.int32() }), { errors: { processing: 'continue' } }));
    t.input('in').pipe('a', { n: 1 });
    assert.equal(t.output('out').size, 0);
    assert.deepEqual(t.droppedRecords(), { 'processing-error': 1 });
  });
});
