/**
 * Interactive queries over HTTP, as JSON: the key-value state stores of this instance.
 *
 *   GET /stores                                    -> [{ name, kind, keys }]
 *   GET /stores/<store>/keys/<key>                 -> { store, key, value }
 *   GET /stores/<store>/range?from=&to=&limit=     -> { store, entries: [{ key, value }], more, partial }
 *
 * A key in the URL is text, turned into the store's key type by its key serde: as is for
 * `string`, a number for `int32` / `float64`, JSON (or else the text itself) for other serdes.
 * The key's partition is the one Kafka's default partitioner gives its serialized bytes
 * (partitionForKey), and its task `<subtopology>_<partition>` holds it. Where that task does not
 * run here, `resolveOwner` decides what happens: by default a 404 `{ error, retriable }`; a
 * resolver that knows the other instances can name the owner and `forward` the request there.
 *
 * Errors are JSON `{ error, retriable }`: 400 bad input, 404 unknown store or key or a key held
 * elsewhere, 405 not GET, 503 the key's task is restoring here (retriable).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { partitionForKey } from '../log/partitioner.js';
import type { StreamsRuntime } from '../runtime/streams-runtime.js';
import type { Serde } from '../serde/serde.js';
import { changelogTopicOf, type StoreDefinition } from '../state/store-definition.js';
import type { ReadOnlyKeyValueStore } from '../state/store-types.js';

/** Where a key's data lives, as StoreQueryOptions.resolveOwner answers. */
export type KeyOwner =
  /** This instance runs the key's task (or the store is global): answered here. */
  | { kind: 'local' }
  /** Another instance runs it; `owner` is its address when known (for `forward`). */
  | { kind: 'remote'; task: string; partition: number; owner?: string }
  /** Nobody can answer now (the task restores here, or is between owners during a rebalance). */
  | { kind: 'unavailable'; task: string; partition: number; reason: string };

/** Where a key belongs: its partition and the task that owns that partition. */
export interface KeyLocation {
  store: string;
  partition: number;
  task: string;
}

export interface StoreQueryOptions {
  /**
   * Decides where a key's data lives. Default: `localOwner(runtime)`, which answers 'local' when
   * this instance runs the key's task and 'remote' otherwise. Cross-instance queries plug in here.
   */
  resolveOwner?(store: string, keyBytes: Buffer): KeyOwner | Promise<KeyOwner>;
  /** Answers a request for a key held by another instance (e.g. proxies it). Default: 404 with `retriable: true`. */
  forward?(owner: Extract<KeyOwner, { kind: 'remote' }>, req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Longest key accepted, in UTF-8 bytes of the decoded text. Default 4096. */
  maxKeyBytes?: number;
  /** Largest `limit` of a range query. Default 1000 (and 100 when not given). */
  maxRangeLimit?: number;
}

export interface StoreQueryHandler {
  /** Answers a request under `/stores`; resolves false (nothing written) for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Where a key of a store belongs (undefined for a global store, which every instance holds). */
  locate(store: string, keyBytes: Buffer): Promise<KeyLocation | undefined>;
}

const STORE_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const DEFAULT_RANGE_LIMIT = 100;

/** A 4xx / 5xx answer, thrown by the request's steps and written by handle(). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retriable = false,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The interactive-query handler of a runtime, to mount in an HTTP server (startOpsServer does).
 *
 * @example
 * const stores = storeQueryHandler(runtime);
 * createServer(async (req, res) => { if (!(await stores.handle(req, res))) res.writeHead(404).end(); });
 */
export function storeQueryHandler(runtime: StreamsRuntime, options: StoreQueryOptions = {}): StoreQueryHandler {
  const maxKeyBytes = options.maxKeyBytes ?? 4096;
  const maxRangeLimit = options.maxRangeLimit ?? 1000;
  const partitionCounts = new Map<string, number>();

  const topology = () => {
    const t = runtime.compiledTopology();
    if (t === undefined) throw new HttpError(503, 'the application has not started yet', true);
    return t;
  };

  const definition = (name: string): StoreDefinition => {
    if (!STORE_NAME.test(name)) throw new HttpError(400, `'${name.slice(0, 100)}' is not a store name (1-249 of a-z A-Z 0-9 . _ -)`);
    const t = topology();
    const def = t.stores.get(name);
    if (def === undefined) throw new HttpError(404, `no store named '${name}' (stores: ${[...t.stores.keys()].join(', ') || 'none'})`);
    if (def.kind !== 'key-value') throw new HttpError(400, `store '${name}' is a ${def.kind} store: only key-value stores are served`);
    return def;
  };

  const partitionsOf = async (topic: string): Promise<number> => {
    let n = partitionCounts.get(topic);
    if (n === undefined) {
      n = (await runtime.log.admin.offsets(topic)).length;
      partitionCounts.set(topic, n);
    }
    return n;
  };

  const locate = async (store: string, keyBytes: Buffer): Promise<KeyLocation | undefined> => {
    const subtopology = topology().subtopologyOfStore(store);
    const source = subtopology?.sourceTopics[0];
    if (subtopology === undefined || source === undefined) return undefined;
    const partition = partitionForKey(keyBytes, await partitionsOf(source));
    return { store, partition, task: `${subtopology.id}_${partition}` };
  };

  const resolveOwner = options.resolveOwner ?? (async (store: string, keyBytes: Buffer): Promise<KeyOwner> => {
    const where = await locate(store, keyBytes);
    if (where === undefined) return { kind: 'local' };
    const task = runtime.status().tasks.find((t) => t.id === where.task);
    if (task === undefined) return { kind: 'remote', task: where.task, partition: where.partition };
    if (task.state !== 'running') return { kind: 'unavailable', task: where.task, partition: where.partition, reason: `task ${where.task} is ${task.state} on this instance` };
    return { kind: 'local' };
  });

  const parseKey = (raw: string, def: StoreDefinition, what: string): { key: unknown; bytes: Buffer } => {
    if (raw.length === 0) throw new HttpError(400, `${what} is empty`);
    if (Buffer.byteLength(raw, 'utf8') > maxKeyBytes) throw new HttpError(400, `${what} is longer than ${maxKeyBytes} bytes`);
    const key = keyFromText(raw, def.keySerde, what);
    let bytes: Buffer;
    try {
      bytes = def.keySerde.serialize(key, serdeTopic(runtime.applicationId, def));
    } catch (err) {
      throw new HttpError(400, `${what} '${raw.slice(0, 100)}' is not a key of store '${def.name}' (key serde ${def.keySerde.name}): ${err instanceof Error ? err.message : String(err)}`);
    }
    return { key, bytes };
  };

  const getKey = async (req: IncomingMessage, res: ServerResponse, name: string, rawKey: string): Promise<void> => {
    const def = definition(name);
    const { key, bytes } = parseKey(rawKey, def, 'the key');
    const owner = await resolveOwner(name, bytes);
    if (owner.kind === 'remote') {
      if (options.forward !== undefined) return options.forward(owner, req, res);
      throw new HttpError(404, `key ${JSON.stringify(rawKey)} of store '${name}' belongs to task ${owner.task} (partition ${owner.partition}), which does not run on this instance`, true, {
        task: owner.task,
        partition: owner.partition,
        ...(owner.owner === undefined ? {} : { owner: owner.owner }),
      });
    }
    if (owner.kind === 'unavailable') throw new HttpError(503, owner.reason, true, { task: owner.task, partition: owner.partition });
    const value = runtime.store<ReadOnlyKeyValueStore<unknown, unknown>>(name).get(key);
    if (value === undefined) throw new HttpError(404, `store '${name}' has no key ${JSON.stringify(rawKey)}`, false);
    send(res, 200, { store: name, key, value });
  };

  const range = async (res: ServerResponse, name: string, params: URLSearchParams): Promise<void> => {
    const def = definition(name);
    const from = params.get('from');
    const to = params.get('to');
    const limitText = params.get('limit');
    let limit = DEFAULT_RANGE_LIMIT;
    if (limitText !== null) {
      limit = Number(limitText);
      if (!/^\d+$/.test(limitText) || limit < 1 || limit > maxRangeLimit) throw new HttpError(400, `limit must be an integer from 1 to ${maxRangeLimit}, got '${limitText.slice(0, 20)}'`);
    }
    const lower = from === null || from === '' ? undefined : parseKey(from, def, 'from').key;
    const upper = to === null || to === '' ? undefined : parseKey(to, def, 'to').key;
    const entries: { key: unknown; value: unknown }[] = [];
    let more = false;
    for (const { key, value } of runtime.store<ReadOnlyKeyValueStore<unknown, unknown>>(name).range(lower, upper)) {
      if (entries.length === limit) {
        more = true;
        break;
      }
      entries.push({ key, value });
    }
    // only this instance's tasks are read: say so when others hold part of the store
    const subtopology = topology().subtopologyOfStore(name);
    const source = subtopology?.sourceTopics[0];
    let partial = false;
    if (subtopology !== undefined && source !== undefined) {
      const running = runtime.status().tasks.filter((t) => t.state === 'running' && t.id.startsWith(`${subtopology.id}_`)).length;
      partial = running < (await partitionsOf(source));
    }
    send(res, 200, { store: name, entries, more, partial });
  };

  const list = (res: ServerResponse): void => {
    const sizes = runtime.storeSizes();
    const stores = [...topology().stores.values()].map((d) => ({ name: d.name, kind: d.kind, keys: sizes[d.name] ?? 0 }));
    send(res, 200, stores);
  };

  return {
    locate,
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const rawParts = url.pathname.split('/').filter((s) => s.length > 0);
      if (rawParts[0] !== 'stores') return false;
      try {
        if (req.method !== 'GET') throw new HttpError(405, 'only GET is served');
        let parts: string[];
        try {
          parts = rawParts.map((p) => decodeURIComponent(p));
        } catch {
          throw new HttpError(400, 'the path is not valid percent-encoding');
        }
        if (parts.length === 1) list(res);
        else if (parts.length === 4 && parts[2] === 'keys') await getKey(req, res, parts[1]!, parts[3]!);
        else if (parts.length === 3 && parts[2] === 'range') await range(res, parts[1]!, url.searchParams);
        else throw new HttpError(404, 'no such path: try /stores, /stores/<store>/keys/<key> or /stores/<store>/range?from=&to=&limit=');
      } catch (err) {
        if (err instanceof HttpError) send(res, err.status, { error: err.message, retriable: err.retriable, ...err.extra });
        else send(res, 500, { error: err instanceof Error ? err.message : String(err), retriable: true });
      }
      return true;
    },
  };
}

/** The topic name a store's serdes are given (as TaskStores does): its changelog, or `<app>-<store>`. */
function serdeTopic(applicationId: string, def: StoreDefinition): string {
  return (def.restoreRecord === undefined ? changelogTopicOf(applicationId, def) : undefined) ?? `${applicationId}-${def.name}`;
}

/** A key typed in a URL, as the store's key type (see the module comment). */
function keyFromText(text: string, serde: Serde<unknown>, what: string): unknown {
  switch (serde.name) {
    case 'string':
      return text;
    case 'bytes':
      return Buffer.from(text, 'utf8');
    case 'int32': {
      const n = Number(text);
      if (!/^-?\d+$/.test(text) || n < -(2 ** 31) || n >= 2 ** 31) throw new HttpError(400, `${what} must be a 32-bit integer, got '${text.slice(0, 100)}'`);
      return n;
    }
    case 'float64': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw new HttpError(400, `${what} must be a number, got '${text.slice(0, 100)}'`);
      return n;
    }
    default:
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
  }
}

/** Writes a JSON body; Buffers go out as base64, bigints as strings. */
export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    const b = v as { type?: unknown; data?: unknown } | null;
    if (b !== null && typeof b === 'object' && b.type === 'Buffer' && Array.isArray(b.data)) return Buffer.from(b.data as number[]).toString('base64');
    return v;
  });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}
