/**
 * Kafka's default partitioning of keyed records, bit for bit, so that a key lands on the same
 * partition whether the embedded log or a Java / kafkajs producer wrote it (co-partitioning
 * depends on it). Records with a null key are spread round robin by the producer instead.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/**
 * MurmurHash2, 32 bits, as Kafka's `Utils.murmur2` computes it (seed 0x9747b28c, little-endian
 * 4-byte blocks). Returns a signed 32-bit integer, as the Java `int` would be.
 */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = (SEED ^ length) | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) h ^= bytes[blocks + 1]! << 8;
    h ^= bytes[blocks]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which fails on MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/**
 * The partition Kafka's default partitioner picks for a keyed record:
 * `toPositive(murmur2(keyBytes)) % numPartitions`.
 *
 * @example
 * partitionForKey(Buffer.from('customer-42'), 8); // same answer as the Java client
 */
export function partitionForKey(keyBytes: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(keyBytes)) % numPartitions;
}
