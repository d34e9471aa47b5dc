/**
 * Records encoded by Tributary (src/log/kafka/record-encoder.ts) and framed by the patched
 * kafkajs produce request must be the batch kafkajs itself would have sent: both requests are
 * decoded with kafkajs' own RecordBatch decoder (the one its consumer uses) and compared record
 * by record, header by header; the CRC-32C is checked separately (kafkajs' decoder skips it; the
 * broker does not). The real broker takes these batches in the Kafka conformance and runtime suites.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeRecords } from '../../src/log/kafka/record-encoder.js';
import type { OutgoingRecord } from '../../src/log/types.js';

const require = createRequire(import.meta.url);
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js');
const Decoder = require('kafkajs/src/protocol/decoder.js');
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js');
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js');

interface Decoded {
  attributes: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  records: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }[];
  crcOk: boolean;
}

/** Encodes a one-partition produce request and decodes its record batch back. */
async function roundTrip(messages: object[], firstOffset = 0n): Promise<Decoded> {
  const request = produceRequest({
    acks: -1,
    timeout: 1000,
    transactionalId: 'txn-1',
    producerId: 4242,
    producerEpoch: 3,
    topicData: [{ topic: 'topic-a', partitions: [{ partition: 5, firstSequence: 17, messages }] }],
  });
  const d = new Decoder((await request.encode()).buffer);
  d.readString(); // transactional id
  d.readInt16(); // acks
  d.readInt32(); // timeout
  assert.equal(d.readInt32(), 1, 'one topic');
  assert.equal(d.readString(), 'topic-a');
  assert.equal(d.readInt32(), 1, 'one partition');
  assert.equal(d.readInt32(), 5, 'partition');
  const size = d.readInt32();
  const recordSet = d.buffer.subarray(d.offset, d.offset + size);
  // CRC-32C of everything after the crc field (offset 8 + 4 + 4 + 1 = 17 in the batch)
  const crcOk = recordSet.readUInt32BE(17) === crc32C(recordSet.subarray(21));
  // as a broker would have stored it (the producer writes 0; the CRC does not cover it)
  recordSet.writeBigInt64BE(firstOffset, 0);
  const batch = await decodeRecordBatch(new Decoder(recordSet));
  return {
    attributes: batch.inTransaction ? 16 : 0,
    producerId: String(batch.producerId),
    producerEpoch: batch.producerEpoch,
    firstSequence: batch.firstSequence,
    records: batch.records.map((m: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }) => ({ offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers: m.headers })),
    crcOk,
  };
}

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const recordArb: fc.Arbitrary<OutgoingRecord> = fc.record({
  topic: fc.constant('topic-a'),
  key: fc.option(bytes, { nil: null }),
  value: fc.option(bytes, { nil: null }),
  // out of order and far apart too (deltas beyond 2^31 ms, negative deltas)
  timestamp: fc.oneof(fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 }), fc.integer({ min: 0, max: 2 ** 45 })),
  headers: fc.dictionary(fc.string({ maxLength: 12 }), bytes, { maxKeys: 3 }),
});

describe('Kafka record encoder (records encoded before kafkajs frames the batch)', () => {
  it('gives the batch kafkajs would have encoded from the same records (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recordArb, { minLength: 1, maxLength: 40 }), async (records) => {
        const indexes = records.map((_, i) => i);
        const ours = await roundTrip([{ partition: 5, key: null, value: null, tributaryRecords: encodeRecords(records, indexes) }]);
        const theirs = await roundTrip(records.map((r) => ({ partition: 5, key: r.key, value: r.value, timestamp: String(r.timestamp), headers: r.headers })));
        assert.equal(ours.crcOk, true, 'CRC-32C of our batch');
        assert.equal(theirs.crcOk, true, "CRC-32C of kafkajs' batch");
        assert.deepEqual(
          { ...ours, records: ours.records.map((r) => ({ ...r, timestamp: undefined })) },
          { ...theirs, records: theirs.records.map((r) => ({ ...r, timestamp: undefined })) },
        );
        // kafkajs takes the smallest timestamp as the base (sorted as strings); each record's own timestamp is what counts
        assert.deepEqual(ours.records.map((r) => Number(r.timestamp)), records.map((r) => r.timestamp));
      }),
      { numRuns: 200 },
    );
  });

  it("kafkajs' decoder (patched: deltas added as numbers) gives each record's offset and timestamp, any base and delta", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recordArb, { minLength: 1, maxLength: 20 }), fc.bigInt({ min: 0n, max: 2n ** 62n }), async (records, base) => {
        const decoded = await roundTrip([{ partition: 5, key: null, value: null, tributaryRecords: encodeRecords(records, records.map((_, i) => i)) }], base);
        assert.deepEqual(decoded.records.map((r) => r.offset), records.map((_, i) => String(base + BigInt(i))));
        assert.deepEqual(decoded.records.map((r) => r.timestamp), records.map((r) => String(r.timestamp)));
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a chosen subset of records in the given order, offsets counting from 0', async () => {
    const records: OutgoingRecord[] = ['a', 'b', 'c', 'd'].map((k, i) => ({ topic: 't', key: Buffer.from(k), value: Buffer.from(`v${i}`), timestamp: 1000 + i, headers: {} }));
    const decoded = await roundTrip([{ partition: 5, key: null, value: null, tributaryRecords: encodeRecords(records, [3, 1]) }]);
    assert.deepEqual(decoded.records.map((r) => [r.offset, r.key!.toString(), r.value!.toString(), r.timestamp]), [['0', 'd', 'v3', '1003'], ['1', 'b', 'v1', '1001']]);
    assert.equal(decoded.firstSequence, 17);
    assert.equal(decoded.producerId, '4242');
    assert.equal(decoded.producerEpoch, 3);
    assert.equal(decoded.attributes, 16, 'transactional');
  });
});
