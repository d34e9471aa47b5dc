import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SerdeError, serdes } from '../../src/index.js';

describe('built-in serdes', () => {
  it('round-trip their values (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => serdes.string().deserialize(serdes.string().serialize(s, 't'), 't') === s));
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => serdes.int32().deserialize(serdes.int32().serialize(n, 't'), 't') === n));
    fc.assert(fc.property(fc.double({ noNaN: true }), (n) => Object.is(serdes.float64().deserialize(serdes.float64().serialize(n, 't'), 't'), n)));
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const json = serdes.json();
      assert.deepEqual(json.deserialize(json.serialize(v, 't'), 't'), JSON.parse(JSON.stringify(v)));
    }));
    fc.assert(fc.property(fc.uint8Array(), (a) => serdes.bytes().deserialize(serdes.bytes().serialize(Buffer.from(a), 't'), 't').equals(Buffer.from(a))));
  });

  it('int32 sorts like Kafka: big-endian bytes', () => {
    assert.deepEqual([...serdes.int32().serialize(258, 't')], [0, 0, 1, 2]);
  });

  it('refuse what they cannot represent, with the topic in the message', () => {
    assert.throws(() => serdes.int32().serialize(1.5, 't'), SerdeError);
    assert.throws(() => serdes.int32().deserialize(Buffer.from([1, 2]), 'orders'), /expected 4 bytes, got 2 \(topic 'orders'\)/);
    assert.throws(() => serdes.float64().deserialize(Buffer.alloc(3), 'x'), /expected 8 bytes/);
    assert.throws(() => serdes.json().deserialize(Buffer.from('{"a":'), 'orders'), /invalid JSON on topic 'orders'/);
    assert.throws(() => serdes.json().serialize(undefined, 't'), /cannot be written as JSON/);
    assert.throws(() => serdes.string().serialize(42 as unknown as string, 't'), /expected a string, got number/);
  });
});
