import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SerdeError, serdes } from '../../src/index.js';

const sampleSchema = {
  type: 'record',
  name: 'Sample',
  namespace: 'prop',
  fields: [
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'd', type: 'double' },
    { name: 'f', type: 'float' },
    { name: 'b', type: 'boolean' },
    { name: 's', type: 'string' },
    { name: 'by', type: 'bytes' },
    { name: 'opt', type: ['null', 'string'] },
    { name: 'u', type: ['null', 'int', 'string'] },
    { name: 'e', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'] } },
    { name: 'arr', type: { type: 'array', items: 'int' } },
    { name: 'm', type: { type: 'map', values: 'double' } },
    { name: 'fx', type: { type: 'fixed', name: 'Four', size: 4 } },
    { name: 'inner', type: { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'string' }, { name: 'next', type: ['null', 'Inner'], default: null }] } },
  ],
};

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const text = fc.string({ unit: 'grapheme' });
const inner: fc.Arbitrary<{ x: string; next: unknown }> = fc.letrec<{ inner: { x: string; next: unknown } }>((tie) => ({
  inner: fc.record({ x: text, next: fc.option(tie('inner'), { nil: null, depthSize: 'small' }) }),
})).inner;
const sample = fc.record({
  i: int32,
  l: fc.maxSafeInteger(),
  d: fc.double(),
  f: fc.float(),
  b: fc.boolean(),
  s: text,
  by: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  opt: fc.option(text, { nil: null }),
  u: fc.oneof(fc.constant(null), int32, text),
  e: fc.constantFrom('RED', 'GREEN', 'BLUE'),
  arr: fc.array(int32),
  m: fc.dictionary(text.filter((k) => k !== '__proto__'), fc.double()),
  fx: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((a) => Buffer.from(a)),
  inner,
});

/** Decoded records are avsc class instances and bytes are Buffers: compare their structured clones. */
const data = (v: unknown) => structuredClone(v);

describe('serdes.avro', () => {
  it('round-trips every value of a schema with every Avro type (property)', () => {
    const serde = serdes.avro(sampleSchema);
    fc.assert(
      fc.property(sample, (value) => {
        const bytes = serde.serialize(value, 't');
        const back = serde.deserialize(bytes, 't');
        assert.deepStrictEqual(data(back), data(value));
        assert.ok(serde.serialize(back as typeof value, 't').equals(bytes), 'writing what was read gives the same bytes');
      }),
    );
  });

  it('keeps longs exact over the whole safe-integer range (avsc\'s own long is not below -2^52)', () => {
    const long = serdes.avro<number>('long');
    for (const n of [Number.MIN_SAFE_INTEGER, -(2 ** 52) - 1, -1, 0, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER]) {
      assert.equal(long.deserialize(long.serialize(n, 't'), 't'), n);
    }
    assert.throws(() => long.serialize(2 ** 53, 't'), SerdeError);
    assert.throws(() => long.deserialize(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 't'), /outside the safe integer range/);
  });

  it('writes longs as the Avro spec says: zig-zag varints (property, against a BigInt reference)', () => {
    const long = serdes.avro<number>('long');
    const reference = (n: number): Buffer => {
      let z = BigInt.asUintN(64, (BigInt(n) << 1n) ^ (BigInt(n) >> 63n));
      const out: number[] = [];
      do {
        const byte = Number(z & 0x7fn);
        z >>= 7n;
        out.push(z > 0n ? byte | 0x80 : byte);
      } while (z > 0n);
      return Buffer.from(out);
    };
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => long.serialize(n, 't').equals(reference(n))));
  });

  it('accepts the schema as JSON text, an object, a primitive name or an avsc type', () => {
    assert.equal(serdes.avro<string>('string').deserialize(serdes.avro<string>('"string"').serialize('héllo', 't'), 't'), 'héllo');
    const fromText = serdes.avro(JSON.stringify(sampleSchema));
    assert.equal(serdes.avro(fromText.type).type, fromText.type);
    assert.equal(fromText.name, 'avro(prop.Sample)');
  });

  it('reads data written with an older schema when given writerSchema (resolution)', () => {
    const v1 = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] };
    const v2 = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'qty', type: 'int', default: 1 }] };
    const old = serdes.avro(v1).serialize({ id: 'a' }, 'orders');
    assert.deepEqual(data(serdes.avro(v2, { writerSchema: v1 }).deserialize(old, 'orders')), { id: 'a', qty: 1 });
    assert.throws(() => serdes.avro(v2).deserialize(old, 'orders'), /truncated buffer/);
    const v3 = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'qty', type: 'int' }] };
    assert.throws(() => serdes.avro(v3, { writerSchema: v1 }), /cannot be read as Order: no matching field for default-less Order.qty/);
  });

  it('says which fields do not fit, and refuses bytes that are not a value of the schema', () => {
    const serde = serdes.avro({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'amount', type: 'double' }] });
    assert.throws(
      () => serde.serialize({ id: 7, amount: 'x' } as never, 'orders'),
      (err: Error) => err instanceof SerdeError && /cannot write a value for topic 'orders': invalid value at id, amount/.test(err.message),
    );
    assert.throws(() => serde.deserialize(Buffer.from([2, 0x61]), 'orders'), /avro\(Order\): cannot read 2 bytes on topic 'orders': truncated buffer/);
    assert.throws(() => serde.deserialize(Buffer.concat([serde.serialize({ id: 'a', amount: 1 }, 't'), Buffer.from([0])]), 'orders'), /trailing data/);
    assert.throws(() => serdes.avro({ type: 'record', name: 'Bad', fields: [{ name: 'a', type: 'nope' }] }), /avro: invalid schema: undefined type name: nope/);
  });
});
