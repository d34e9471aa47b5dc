import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PartitionMetadata } from 'kafkajs';
import { PartitionRouter } from '../../src/log/kafka/produce-plan.js';
import { partitionForKey } from '../../src/log/partitioner.js';

function partitions(n: number): PartitionMetadata[] {
  return Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0, offlineReplicas: [] }));
}

const record = (key: Buffer | null, partition?: number) => ({
  topic: 't',
  key,
  value: null,
  timestamp: 0,
  headers: {},
  ...(partition === undefined ? {} : { partition }),
});

test("the Kafka backend routes keyed records with kafkajs' DefaultPartitioner, which is partitionForKey", () => {
  const router = new PartitionRouter();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 300 }), (bytes, n) => {
      const key = Buffer.from(bytes);
      assert.equal(router.route(record(key), partitions(n)), partitionForKey(key, n));
    }),
    { numRuns: 5000 },
  );
  // keys whose hash is negative, and Integer.MIN_VALUE-like corner cases of toPositive
  for (const k of ['customer-42', '', 'a', 'ab', 'abc', 'abcd', 'ünïcode', '\u0000\u00ff']) {
    for (const n of [1, 2, 3, 8, 12, 100]) assert.equal(router.route(record(Buffer.from(k)), partitions(n)), partitionForKey(Buffer.from(k), n), `${k} / ${n}`);
  }
});

test('null keys go round robin over the partitions; an explicit partition is kept, or refused out of range', () => {
  const router = new PartitionRouter();
  const seen = Array.from({ length: 12 }, () => router.route(record(null), partitions(4)));
  assert.equal(new Set(seen).size, 4);
  for (let i = 1; i < seen.length; i++) assert.equal(seen[i], (seen[i - 1]! + 1) % 4);
  assert.equal(router.route(record(Buffer.from('k'), 3), partitions(4)), 3);
  assert.throws(() => router.route(record(null, 4), partitions(4)), /has 4 partition\(s\): there is no partition 4/);
});
