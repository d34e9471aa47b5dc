import { createRequire } from 'node:module';
import type avroModule from 'avsc';

const require = createRequire(import.meta.url);
let loaded: typeof avroModule | undefined;
let safeLong: avroModule.Type | undefined;

/**
 * avsc, loaded on first use: importing Tributary does not pay for it (about 30 ms) unless an
 * Avro serde is created.
 */
export function avsc(): typeof avroModule {
  return (loaded ??= require('avsc') as typeof avroModule);
}

/**
 * A `long` that is exact over the whole safe-integer range. avsc's built-in long encodes and
 * decodes negative values below -2^52 wrong without an error (-2^52 - 1 comes back as 2^52): its
 * zig-zag arithmetic runs in doubles. This one goes through BigInt (avsc's documented way to
 * replace the long type), at some cost per long, and refuses values it cannot represent.
 */
export function safeLongType(): avroModule.Type {
  if (safeLong !== undefined) return safeLong;
  const min = BigInt(Number.MIN_SAFE_INTEGER);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  safeLong = avsc().types.LongType.__with({
    fromBuffer(buf: Buffer): number {
      const n = buf.readBigInt64LE(0);
      if (n < min || n > max) throw new Error(`long ${n} is outside the safe integer range of a JavaScript number`);
      return Number(n);
    },
    toBuffer(n: number): Buffer {
      const buf = Buffer.allocUnsafe(8);
      buf.writeBigInt64LE(BigInt(n), 0);
      return buf;
    },
    fromJSON: (n: unknown) => Number(n),
    toJSON: (n: number) => n,
    isValid: (n: unknown) => Number.isSafeInteger(n),
    compare: (a: number, b: number) => (a === b ? 0 : a < b ? -1 : 1),
  });
  return safeLong;
}
