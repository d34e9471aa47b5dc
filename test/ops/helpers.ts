/** Helpers of the operations tests: Prometheus text parsing, HTTP GETs, a known workload. */
import { app, serdes, type App } from '../../src/index.js';
import type { Log, OutgoingRecord } from '../../src/log/types.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format (the subset prom-client writes). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples of one metric whose labels include `labels`. */
export function samples(all: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of a metric with these labels (undefined when absent; an error when several match). */
export function value(all: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(all, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Lag per partition from a lag metric, as { "<topic>/<partition>": lag }. */
export function lagByPartition(all: Sample[], name: string, labels: Record<string, string>): Record<string, number> {
  return Object.fromEntries(samples(all, name, labels).map((s) => [`${s.labels.topic}/${s.labels.partition}`, s.value]));
}

export async function get(url: string, init?: RequestInit): Promise<{ status: number; body: any; text: string; type: string | null }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, type: res.headers.get('content-type') };
}

/**
 * Counts records per key (groupByKey: no repartition) in the key-value store 'counts', and
 * writes each new count to `out`. A value that is not JSON is skipped and counted as dropped.
 */
export function countApp(name: string, input: string, output: string, extra: { stateBackend?: 'memory' | 'sqlite'; skipBadRecords?: boolean } = {}): App {
  return app(
    name,
    (b) => {
      b.stream(input, { key: serdes.string(), value: serdes.json<{ n: number }>() })
        .groupByKey()
        .count({ store: 'counts' })
        .toStream()
        .to(output, { value: serdes.int32() });
    },
    {
      commitIntervalMs: 50,
      ...(extra.skipBadRecords === false ? {} : { errors: { deserialization: 'continue' as const } }),
      ...(extra.stateBackend === undefined ? {} : { stateBackend: extra.stateBackend }),
    },
  );
}

/** Records with these keys and JSON values, timestamps `timestamp` (default now). */
export function records(topic: string, keys: string[], timestamp = Date.now()): OutgoingRecord[] {
  return keys.map((k, i) => ({ topic, key: Buffer.from(k), value: Buffer.from(JSON.stringify({ n: i })), timestamp, headers: {} }));
}

export async function produce(log: Log, list: OutgoingRecord[]): Promise<void> {
  const producer = log.producer();
  await producer.send(list);
  await producer.close();
}
