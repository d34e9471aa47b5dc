/**
 * Base-128 varints as Kafka and the embedded log's batches write them (7 bits a byte, low bits
 * first), for non-negative integers up to 2^53; signed values go through zigzag() first.
 */

/** Bytes of an unsigned varint holding `v` (0 <= v < 2^53). */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 0x80);
  }
  return n;
}

/** Writes `v` at `pos`; returns the position after it. Callers inline the one-byte case. */
export function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = v < 0x80000000 ? v >>> 7 : Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

/** Signed to unsigned, small magnitudes to small numbers: 0, -1, 1, -2 -> 0, 1, 2, 3 (safe integers). */
export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}
