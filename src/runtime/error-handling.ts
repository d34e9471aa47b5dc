import { ProcessingError, SerdeError } from '../errors/index.js';
import type { ConsumedRecord, OutgoingRecord } from '../log/types.js';
import type { ErrorHandling } from './config.js';

export type ErrorStage = 'deserialization' | 'processing';

/** Header names on dead-lettered records. */
export const DEAD_LETTER_HEADERS = {
  stage: 'tributary.error.stage',
  message: 'tributary.error.message',
  errorClass: 'tributary.error.class',
  taskId: 'tributary.error.task',
  topic: 'tributary.source.topic',
  partition: 'tributary.source.partition',
  offset: 'tributary.source.offset',
  timestamp: 'tributary.source.timestamp',
} as const;

export function describeRecord(record: ConsumedRecord): string {
  return `${record.topic}-${record.partition}@${record.offset}`;
}

/** The error that stops the application under the 'fail' handler: it names the record and the way out. */
export function fatalRecordError(stage: ErrorStage, err: unknown, record: ConsumedRecord, taskId: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  const text =
    `${stage} failed in task ${taskId} for record ${describeRecord(record)} (topic '${record.topic}', partition ${record.partition}, offset ${record.offset}): ${message}. ` +
    `Nothing after the last commit was written. To skip such records set errors.${stage} to 'continue' or { deadLetterTopic: '...' } in the app config`;
  return stage === 'deserialization' ? new SerdeError(text, { cause: err }) : new ProcessingError(text, { cause: err });
}

/** The original bytes of a failed record, with what failed and where in its headers. */
export function deadLetterRecord(topic: string, stage: ErrorStage, err: unknown, record: ConsumedRecord, taskId: string): OutgoingRecord {
  const error = err instanceof Error ? err : new Error(String(err));
  return {
    topic,
    key: record.key,
    value: record.value,
    timestamp: record.timestamp,
    headers: {
      ...record.headers,
      [DEAD_LETTER_HEADERS.stage]: Buffer.from(stage),
      [DEAD_LETTER_HEADERS.message]: Buffer.from(error.message),
      [DEAD_LETTER_HEADERS.errorClass]: Buffer.from(error.name),
      [DEAD_LETTER_HEADERS.taskId]: Buffer.from(taskId),
      [DEAD_LETTER_HEADERS.topic]: Buffer.from(record.topic),
      [DEAD_LETTER_HEADERS.partition]: Buffer.from(String(record.partition)),
      [DEAD_LETTER_HEADERS.offset]: Buffer.from(String(record.offset)),
      [DEAD_LETTER_HEADERS.timestamp]: Buffer.from(String(record.timestamp)),
    },
  };
}

export function deadLetterTopicOf(handling: ErrorHandling): string | undefined {
  return typeof handling === 'object' ? handling.deadLetterTopic : undefined;
}
