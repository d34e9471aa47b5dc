/**
 * One poll's records -> one transaction on a read-model version: decode, build each event's
 * meta, apply with the offsets' compare-and-set, and handle a record that fails as the app's
 * error handling says (fail, continue, or dead-letter topic). Shared by the live runner and rebuild.
 */
import { ProcessingError, SerdeError } from '../errors/index.js';
import type { ConsumedRecord, OutgoingRecord } from '../log/types.js';
import type { ErrorHandling } from '../runtime/config.js';
import { deadLetterRecord, deadLetterTopicOf, type ErrorStage } from '../runtime/error-handling.js';
import type { Serde } from '../serde/serde.js';
import { ApplyError, type ApplyRecord, type CommitOutcome, type OffsetAdvance, type VersionWriter } from './projection-store.js';

/** The topic a projection reads and how its records decode: what `stream.project()` records in the topology. */
export interface ProjectionSource {
  topic: string;
  keySerde: Serde<any>;
  valueSerde: Serde<any>;
}

export interface ProjectionErrorHandling {
  deserialization: ErrorHandling;
  processing: ErrorHandling;
}

export interface BatchContext {
  projection: string;
  source: ProjectionSource;
  errors: ProjectionErrorHandling;
  /** The stored next offset of each partition, as this writer last read or wrote it; updated on commit. */
  stored: Map<number, number>;
  replaying: boolean;
  requireLive: boolean;
  /** Sends dead letters (before the transaction that skips them commits: at least once). */
  deadLetter(records: OutgoingRecord[]): Promise<void>;
}

export interface BatchResult {
  outcome: CommitOutcome;
  /** Records applied (committed) and skipped by the error handling. */
  applied: number;
  skipped: number;
}

/** Applies `records` (offset order per partition) to `writer` in one transaction. */
export async function commitRecords(writer: VersionWriter, records: readonly ConsumedRecord[], ctx: BatchContext): Promise<BatchResult> {
  const { source } = ctx;
  const offsets = new Map<number, OffsetAdvance>();
  const applies: ApplyRecord[] = [];
  const origin: ConsumedRecord[] = [];
  const dead: OutgoingRecord[] = [];
  let skipped = 0;
  for (const record of records) {
    const from = ctx.stored.get(record.partition);
    // Not assigned any more, or already applied (a fetch from before a seek): not ours to apply.
    if (from === undefined || record.offset < from) continue;
    const advance = offsets.get(record.partition);
    if (advance === undefined) offsets.set(record.partition, { topic: source.topic, partition: record.partition, from, to: record.offset + 1 });
    else advance.to = record.offset + 1;
    let key: unknown;
    let value: unknown;
    try {
      key = record.key === null ? null : source.keySerde.deserialize(record.key, record.topic, record.headers);
      value = record.value === null ? null : source.valueSerde.deserialize(record.value, record.topic, record.headers);
    } catch (err) {
      const letter = handleFailure('deserialization', ctx, err, record);
      if (letter !== undefined) dead.push(letter);
      skipped++;
      continue;
    }
    applies.push({
      value,
      meta: { topic: record.topic, partition: record.partition, offset: record.offset, timestamp: record.timestamp, key, headers: record.headers, replaying: ctx.replaying, version: writer.version },
    });
    origin.push(record);
  }
  if (offsets.size === 0) return { outcome: { kind: 'committed' }, applied: 0, skipped: 0 };
  if (dead.length > 0) await ctx.deadLetter(dead);
  const batch = { records: applies, offsets: [...offsets.values()], requireLive: ctx.requireLive };
  for (;;) {
    try {
      const outcome = await writer.commit(batch);
      if (outcome.kind === 'committed') for (const o of batch.offsets) ctx.stored.set(o.partition, o.to);
      return { outcome, applied: outcome.kind === 'committed' ? applies.length : 0, skipped };
    } catch (err) {
      if (!(err instanceof ApplyError)) throw err;
      // The transaction was rolled back: skip the failing record (or stop) and apply the rest again.
      const record = origin[err.index]!;
      const letter = handleFailure('processing', ctx, err.error, record);
      if (letter !== undefined) await ctx.deadLetter([letter]);
      applies.splice(err.index, 1);
      origin.splice(err.index, 1);
      skipped++;
    }
  }
}

/** Throws the fatal error under 'fail'; returns the dead letter under a dead-letter topic; undefined under 'continue'. */
function handleFailure(stage: ErrorStage, ctx: BatchContext, err: unknown, record: ConsumedRecord): OutgoingRecord | undefined {
  const handling = ctx.errors[stage];
  if (handling === 'fail') throw projectionRecordError(stage, ctx.projection, err, record);
  const topic = deadLetterTopicOf(handling);
  return topic === undefined ? undefined : deadLetterRecord(topic, stage, err, record, `projection-${ctx.projection}`);
}

/** The error that stops a projection (and its application) under the 'fail' handler. */
export function projectionRecordError(stage: ErrorStage, projection: string, err: unknown, record: ConsumedRecord): Error {
  const message = err instanceof Error ? err.message : String(err);
  const what = stage === 'deserialization' ? 'could not deserialize' : 'failed to apply';
  const text =
    `projection '${projection}' ${what} the record at topic '${record.topic}', partition ${record.partition}, offset ${record.offset}: ${message}. ` +
    `Nothing of its batch was written; the projection resumes at that record when restarted. To skip such records set errors.${stage} to 'continue' or { deadLetterTopic: '...' } in the app config`;
  return stage === 'deserialization' ? new SerdeError(text, { cause: err }) : new ProcessingError(text, { cause: err });
}
