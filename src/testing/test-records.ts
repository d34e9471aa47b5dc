import type { Headers } from '../log/types.js';

/** A record read from a test output topic, deserialized. */
export interface TestRecord<K, V> {
  key: K;
  value: V;
  timestamp: number;
  headers: Headers;
}

export interface PipeOptions {
  /** Event time; default: the driver's wall clock. */
  timestamp?: number;
  headers?: Record<string, string | Buffer>;
}

export function toHeaders(headers: Record<string, string | Buffer> | undefined): Headers {
  const out: Headers = {};
  if (headers === undefined) return out;
  for (const [k, v] of Object.entries(headers)) out[k] = typeof v === 'string' ? Buffer.from(v) : v;
  return out;
}
