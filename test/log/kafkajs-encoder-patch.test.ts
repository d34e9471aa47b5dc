// patches/kafkajs+2.2.4.patch rewrites kafkajs' varint and varlong encoding for speed (bytes written
// in place, small varlongs through the 32-bit path). They must write exactly Kafka's encoding:
// zigzag, then 7 bits per byte, low first, high bit set on every byte but the last.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';

const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder.js') as {
  new (): { writeVarLong(v: number): { buffer: Buffer }; writeVarInt(v: number): { buffer: Buffer } };
  sizeOfVarLong(v: number): number;
  sizeOfVarInt(v: number): number;
};

/** Kafka's varlong (zigzag over 64 bits), with BigInt: the reference. */
function varlong(value: number): Buffer {
  const v = BigInt(value);
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

test('varlongs: the bytes and sizes of Kafka encoding, small and large', () => {
  const edges = [0, 1, -1, 63, 64, -64, -65, 2 ** 30 - 1, -(2 ** 30), 2 ** 30, -(2 ** 30) - 1, 2 ** 31, -(2 ** 31), 1_700_000_000_000, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  for (const v of edges) {
    assert.deepEqual(new Encoder().writeVarLong(v).buffer, varlong(v), `varlong ${v}`);
    assert.equal(Encoder.sizeOfVarLong(v), varlong(v).length, `size of varlong ${v}`);
  }
  fc.assert(
    fc.property(fc.maxSafeInteger(), (v) => {
      assert.deepEqual(new Encoder().writeVarLong(v).buffer, varlong(v));
      assert.equal(Encoder.sizeOfVarLong(v), varlong(v).length);
    }),
    { numRuns: 2000 },
  );
});

test('varints: the bytes and sizes of Kafka encoding over the whole int32 range', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
      assert.deepEqual(new Encoder().writeVarInt(v).buffer, varlong(v), `varint ${v}`);
      assert.equal(Encoder.sizeOfVarInt(v), varlong(v).length);
    }),
    { numRuns: 2000 },
  );
});
