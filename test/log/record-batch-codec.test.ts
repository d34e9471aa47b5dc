import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TributaryError } from '../../src/errors/index.js';
import { BATCH_MAGIC, BatchCursor, decodeBatch, encodeBatch } from '../../src/log/embedded/record-batch-codec.js';
import type { ConsumedRecord, LogRecord } from '../../src/log/types.js';

const GOLDEN_RECORDS: LogRecord[] = [
  { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1000, headers: { h: Buffer.from('x') } },
  { key: null, value: null, timestamp: 999, headers: {} },
];
// Format version 1, byte for byte (see record-batch-codec.ts): a change here is a new format version.
const GOLDEN_HEX = [
  '01', '00', '02000000', '0000000000408f40', // magic, attributes, recordCount 2, baseTimestamp 1000.0
  '0a', '00', '026b', '0276', '01', '0168', '0178', // length 10, ts delta 0, key "k", value "v", 1 header h=x
  '04', '01', '00', '00', '00', // length 4, ts delta -1 (zigzag 1), null key, null value, no headers
].join('');

test('encodes format version 1 exactly (golden bytes)', () => {
  assert.equal(BATCH_MAGIC, 1);
  assert.equal(encodeBatch(GOLDEN_RECORDS).toString('hex'), GOLDEN_HEX);
  const decoded = decodeBatch(Buffer.from(GOLDEN_HEX, 'hex'), 40, 't', 3);
  assert.deepEqual(
    decoded.map((r) => ({ ...r, key: r.key && r.key.toString(), value: r.value && r.value.toString(), headers: { ...r.headers } })),
    [
      { topic: 't', partition: 3, offset: 40, key: 'k', value: 'v', timestamp: 1000, headers: { h: Buffer.from('x') } },
      { topic: 't', partition: 3, offset: 41, key: null, value: null, timestamp: 999, headers: {} },
    ],
  );
});

const arbRecord: fc.Arbitrary<LogRecord> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 20_000 }).map((a) => Buffer.from(a)), { nil: null }),
  timestamp: fc.oneof(fc.integer({ min: -1, max: 2 ** 42 }), fc.constantFrom(0, 2 ** 51, -(2 ** 51), 1_700_000_000_000)),
  headers: fc.dictionary(fc.string({ minLength: 0, maxLength: 20 }), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), {
    maxKeys: 4,
  }),
});

function plain(r: LogRecord): unknown {
  return {
    key: r.key === null ? null : [...r.key],
    value: r.value === null ? null : r.value.toString('hex'),
    timestamp: r.timestamp,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, [...v]])),
  };
}

test('decode(encode(records)) gives the records back, at consecutive offsets', () => {
  fc.assert(
    fc.property(fc.array(arbRecord, { minLength: 1, maxLength: 40 }), fc.nat(1e12), (records, baseOffset) => {
      const decoded = decodeBatch(encodeBatch(records), baseOffset, 'topic', 0);
      assert.deepEqual(decoded.map(plain), records.map(plain));
      assert.deepEqual(
        decoded.map((r) => r.offset),
        records.map((_, i) => baseOffset + i),
      );
    }),
    { numRuns: 150 },
  );
});

test('a cursor resumes anywhere: skipTo() then read() in chunks equals a whole decode', () => {
  fc.assert(
    fc.property(
      fc.array(arbRecord, { minLength: 1, maxLength: 30 }),
      fc.nat(40),
      fc.integer({ min: 1, max: 7 }),
      (records, from, chunk) => {
        const payload = encodeBatch(records);
        const cursor = new BatchCursor();
        cursor.reset(payload, 100);
        cursor.skipTo(100 + from);
        const out: ConsumedRecord[] = [];
        while (cursor.hasRemaining) assert.ok(cursor.read(out, chunk, 't', 0) <= chunk);
        const want = records.slice(from).map(plain);
        assert.deepEqual(out.map(plain), want);
        if (out.length > 0) assert.equal(out[0]!.offset, 100 + from);
      },
    ),
    { numRuns: 100 },
  );
});

test('decoding is zero-copy: keys and values are views of the payload', () => {
  const payload = encodeBatch([{ key: Buffer.from('key'), value: Buffer.from('value'), timestamp: 1, headers: {} }]);
  const [r] = decodeBatch(payload, 0);
  assert.equal(r!.value!.buffer, payload.buffer);
  payload[payload.length - 2] = 'E'.charCodeAt(0); // the value's last byte (the header count follows)
  assert.equal(r!.value!.toString(), 'valuE');
});

test('refuses an unknown format version and a truncated batch', () => {
  const payload = encodeBatch(GOLDEN_RECORDS);
  const future = Buffer.from(payload);
  future[0] = 9;
  assert.throws(() => decodeBatch(future, 0), (e: unknown) => e instanceof TributaryError && /format version \(magic\) 9/.test(e.message));
  assert.throws(() => decodeBatch(payload.subarray(0, payload.length - 3), 0), /corrupt record batch/);
  assert.throws(() => decodeBatch(payload.subarray(0, 5), 0), /corrupt record batch/);
  assert.throws(() => encodeBatch([]), TributaryError);
});
