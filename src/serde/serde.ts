import type { Headers } from '../log/types.js';

/**
 * Turns values of type T into bytes and back. `null` stays `null` both ways: a null value is a
 * tombstone and never reaches a serde's codec. serialize and deserialize are synchronous (the
 * per-record hot path has no promises); a serde that needs I/O, such as a schema registry lookup,
 * does it ahead of time in the optional {@link AsyncSerdeHooks}.
 */
export interface Serde<T> extends AsyncSerdeHooks {
  /** Shown in describe() output and in error messages. */
  readonly name: string;
  serialize(value: T, topic: string, headers?: Headers): Buffer;
  deserialize(bytes: Buffer, topic: string, headers?: Headers): T;
}

/**
 * The asynchronous side of a serde whose codec needs I/O (schemaRegistryAvro: schema ids and
 * schemas live in a registry). Both hooks are optional; a serde without them is ready at once.
 * What the runtime (and anything else that drives serdes, such as a test driver) must do:
 *
 * 1. `await serde.init(topics)` once per serde instance before the first serialize or
 *    deserialize, with every topic the topology uses the serde for (sources, sinks, repartition
 *    and changelog topics). Calling it again, e.g. with topics only known later, is allowed;
 *    it is idempotent and calls may overlap. After it resolves, serialize does not fail for
 *    lack of a schema id for those topics. A rejection with a `retriable` error (registry
 *    unreachable) may be retried after a back-off; any other rejection is a configuration error
 *    (incompatible schema, unknown subject) and should stop the application.
 * 2. `await serde.prefetch(buffers, topic)` after each fetch and before deserializing any record
 *    of that batch, with the raw bytes the serde will deserialize (the keys for a key serde, the
 *    values for a value serde; nulls are skipped) and the topic they came from. It resolves
 *    once every schema those bytes refer to is loaded, or known to be missing (those records
 *    then fail in deserialize with a non-retriable SerdeError: poison records for the
 *    deserialization handler). It is cheap when nothing is new (no I/O). It rejects only with a
 *    retriable SerdeError (registry unreachable): then nothing of the batch is lost; retry the
 *    prefetch after a back-off, and do not deserialize, skip or dead-letter the batch meanwhile.
 * 3. A deserialize that throws a SerdeError with `retriable: true` (SchemaNotLoadedError) met an
 *    id that was not prefetched (bytes read outside a fetched batch, e.g. from a state store):
 *    `await serde.prefetch([bytes], topic)` and deserialize again; it is not a poison record.
 */
export interface AsyncSerdeHooks {
  /** Loads what serialize and deserialize need for these topics (see {@link AsyncSerdeHooks}). */
  init?(topics: readonly string[]): Promise<void>;
  /** Loads the schemas these bytes refer to, before they are deserialized (see {@link AsyncSerdeHooks}). */
  prefetch?(buffers: readonly (Buffer | null | undefined)[], topic: string): Promise<void>;
}

/** Runs a serde's serialize with null passing through unchanged. */
export function serializeNullable<T>(serde: Serde<T>, value: T | null | undefined, topic: string, headers?: Headers): Buffer | null {
  return value === null || value === undefined ? null : serde.serialize(value, topic, headers);
}

/** Runs a serde's deserialize with null passing through unchanged. */
export function deserializeNullable<T>(serde: Serde<T>, bytes: Buffer | null, topic: string, headers?: Headers): T | null {
  return bytes === null ? null : serde.deserialize(bytes, topic, headers);
}
