import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { murmur2, partitionForKey, toPositive } from '../../src/log/partitioner.js';

// The vectors of Kafka's UtilsTest.testMurmur2 (apache/kafka,
// clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java): Java ints.
const KAFKA_VECTORS: Array<[string | number[], number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  [[0x61, 0x62, 0x63], 479470107], // new byte[] {'a', 'b', 'c'}
];

test("murmur2 matches Kafka's Utils.murmur2 test vectors", () => {
  for (const [input, expected] of KAFKA_VECTORS) {
    const bytes = typeof input === 'string' ? Buffer.from(input) : Buffer.from(input);
    assert.equal(murmur2(bytes), expected, `murmur2(${JSON.stringify(input)})`);
  }
});

test('murmur2 covers every tail length (0 to 3 trailing bytes) and returns a signed 32-bit int', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const h = murmur2(bytes);
      assert.ok(Number.isInteger(h) && h >= -(2 ** 31) && h < 2 ** 31);
      assert.equal(h, murmur2(Uint8Array.from(bytes)), 'deterministic');
    }),
  );
  assert.equal(murmur2(Buffer.alloc(0)), 275646681); // pinned: the mixed seed (not a Kafka vector)
});

test('partitionForKey is toPositive(murmur2(key)) % numPartitions, always in range', () => {
  for (const [input, expected] of KAFKA_VECTORS) {
    const bytes = Buffer.from(input as string);
    for (const n of [1, 2, 3, 7, 12, 100]) assert.equal(partitionForKey(bytes, n), (expected & 0x7fffffff) % n);
  }
  assert.equal(toPositive(-2147483648), 0, 'Integer.MIN_VALUE maps to 0, as Kafka (not Math.abs)');
  assert.equal(toPositive(-1), 2147483647);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 1000 }), (bytes, n) => {
      const p = partitionForKey(bytes, n);
      assert.ok(Number.isInteger(p) && p >= 0 && p < n);
    }),
  );
});
