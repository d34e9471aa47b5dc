import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for registry files; remove() deletes it. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'tributary-registry-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'double' },
  ],
} as const;

/** v1 plus a field with a default: BACKWARD compatible (v2 reads v1 data). */
export const orderV2 = {
  ...orderV1,
  fields: [...orderV1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
} as const;

/** v1 plus a field without a default: v3 cannot read v1 data, so not BACKWARD compatible. */
export const orderV3NoDefault = {
  ...orderV1,
  fields: [...orderV1.fields, { name: 'customer', type: 'string' }],
} as const;

export interface HttpReply {
  status: number;
  contentType: string | null;
  body: any;
}

/** One request to the registry with fetch, as any HTTP client would send it. */
export async function http(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url + path, init);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: text === '' ? undefined : JSON.parse(text) };
}

/** The body of a register or lookup request for an Avro schema. */
export const schemaBody = (schema: unknown) => ({ schema: JSON.stringify(schema) });
