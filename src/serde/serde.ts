import type { Headers } from '../log/types.js';

/**
 * Turns values of type T into bytes and back. `null` stays `null` both ways: a null value is a
 * tombstone and never reaches a serde's codec.
 */
export interface Serde<T> {
  /** Shown in describe() output and in error messages. */
  readonly name: string;
  serialize(value: T, topic: string, headers?: Headers): Buffer;
  deserialize(bytes: Buffer, topic: string, headers?: Headers): T;
}

/** Runs a serde's serialize with null passing through unchanged. */
export function serializeNullable<T>(serde: Serde<T>, value: T | null | undefined, topic: string, headers?: Headers): Buffer | null {
  return value === null || value === undefined ? null : serde.serialize(value, topic, headers);
}

/** Runs a serde's deserialize with null passing through unchanged. */
export function deserializeNullable<T>(serde: Serde<T>, bytes: Buffer | null, topic: string, headers?: Headers): T | null {
  return bytes === null ? null : serde.deserialize(bytes, topic, headers);
}
