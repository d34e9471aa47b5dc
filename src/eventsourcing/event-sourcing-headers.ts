import { ProcessingError } from '../errors/index.js';
import type { Headers } from '../log/types.js';

/** Header names deciders read on commands and write on events and rejections. */
export const EVENT_SOURCING_HEADERS = {
  /** Default header holding a command's correlation id, copied onto its events and rejection. */
  correlationId: 'correlation-id',
  /** On a command: decide it only if the aggregate is at this version (decimal integer). */
  expectedVersion: 'tributary.expected-version',
  /** On an event: the aggregate's version once this event is applied (1 for its first event). */
  aggregateVersion: 'tributary.aggregate-version',
  /** On a rejection: its reason. */
  rejection: 'tributary.rejection',
} as const;

/** The expected version of a command from its header, if it has one. */
export function expectedVersionHeader(headers: Headers): number | undefined {
  const raw = headers[EVENT_SOURCING_HEADERS.expectedVersion];
  if (raw === undefined) return undefined;
  const text = raw.toString('utf8').trim();
  const n = Number(text);
  if (text.length === 0 || !Number.isSafeInteger(n) || n < 0) {
    throw new ProcessingError(`header '${EVENT_SOURCING_HEADERS.expectedVersion}' must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return n;
}
