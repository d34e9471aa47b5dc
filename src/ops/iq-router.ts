/**
 * Interactive queries across instances: `GET /stores/<store>/keys/<key>` answered by whichever
 * instance is asked. The router finds the key's task (`<subtopology>_<partition>`, the partition
 * being Kafka's murmur2 partition of the key's bytes over the partition count of the store's
 * sub-topology sources, src/log/partitioner.ts) and the task's owner from the group's map
 * (iq-metadata.ts), then:
 *
 * - the owner is this instance and the task is running here: answer from the local store;
 * - the owner is another instance: forward the GET there (node:http, with a timeout) and relay
 *   its answer. A forwarded request carries the `x-tributary-forwarded` header and is never
 *   forwarded again, so two instances with different views cannot bounce it between them;
 * - no owner is known (a rebalance is under way, the task is restoring or being handed over,
 *   the owner cannot be reached, or a forwarded request arrived at an instance that no longer
 *   owns the task): 503 `{ error: 'task moving', retriable: true }`. Never a possibly wrong
 *   answer: only the instance that the current assignment names, with the task running, answers.
 *
 * A global table's store is a full copy in every instance: always local. The key must be
 * stored under the same bytes its sub-topology's source topic is partitioned by (true for
 * aggregations and tables, as in Kafka Streams' queryMetadataForKey).
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Log } from '../log/types.js';
import { partitionForKey } from '../log/partitioner.js';
import type { StoreDefinition } from '../state/store-definition.js';
import type { Topology } from '../topology/topology.js';
import type { KeyOwner, StoreQueryOptions } from './http-stores.js';
import type { GroupView } from './iq-metadata.js';

/** Set on a request one instance forwards to another; such a request is answered, never forwarded again. */
export const FORWARDED_HEADER = 'x-tributary-forwarded';
/** Set on answers: the endpoint of the instance whose store answered. */
export const SERVED_BY_HEADER = 'x-tributary-served-by';

/** What the router needs of a running application; StreamsRuntime has it. */
export interface QueryableRuntime {
  readonly log: Log;
  /** The compiled topology, once the runtime has started. */
  compiledTopology(): Topology | undefined;
  /** Ids of the tasks running here (restored, processing). */
  taskIds(): string[];
}

export interface IqRouterOptions {
  runtime: QueryableRuntime;
  /** This instance's advertised endpoint (`host:port`), as given to advertiseEndpoint() (a function: asked each time). */
  endpoint: string | (() => string);
  /** The group as this instance sees it (advertiseEndpoint(...).groupView). */
  groupView: () => GroupView;
  /** How long a forwarded query may take. Default 5000 ms. */
  forwardTimeoutMs?: number;
}

export type KeyRoute =
  | { kind: 'local'; task: string | null }
  | { kind: 'remote'; task: string; endpoint: string }
  | { kind: 'unavailable'; task?: string; status: number; error: string; retriable: boolean; reason: string };

/** An answer to a query, as the local store lookup (or the owner) gives it. */
export interface QueryAnswer {
  status: number;
  body: unknown;
}

export interface HandleQueryOptions {
  store: string;
  /** The key as the URL gave it (decoded). */
  keyText: string;
  /** Answers from this instance's own stores (the HTTP server's local lookup). */
  local: () => QueryAnswer | Promise<QueryAnswer>;
}

const MOVING = 'task moving';

export class IqRouter {
  private readonly runtime: QueryableRuntime;
  private readonly endpointOf: () => string;
  private readonly groupView: () => GroupView;
  private readonly forwardTimeoutMs: number;
  /** Partition count per sub-topology id (topics keep their count while the app runs). */
  private readonly partitions = new Map<number, Promise<number>>();

  constructor(options: IqRouterOptions) {
    this.runtime = options.runtime;
    const endpoint = options.endpoint;
    this.endpointOf = typeof endpoint === 'function' ? endpoint : () => endpoint;
    this.groupView = options.groupView;
    this.forwardTimeoutMs = options.forwardTimeoutMs ?? 5000;
  }

  /** This instance's advertised endpoint. */
  get endpoint(): string {
    return this.endpointOf();
  }

  /** The store's definition, or undefined when the topology has no such store (or is not compiled yet). */
  storeDefinition(store: string): StoreDefinition | undefined {
    return this.runtime.compiledTopology()?.stores.get(store);
  }

  /**
   * The bytes a key given as URL text is partitioned by: the text itself for a string key serde,
   * else the text read as JSON (numbers, objects) when it parses, serialized with the store's key serde.
   */
  keyBytes(store: string, keyText: string): Buffer {
    const topology = this.runtime.compiledTopology();
    const def = topology?.stores.get(store);
    if (topology === undefined || def === undefined) throw new TypeError(`no store named '${store}'`);
    const topic = topology.subtopologyOfStore(store)?.sourceTopics[0] ?? '';
    return def.keySerde.serialize(keyFromText(def, keyText), topic);
  }

  /** The task that holds `keyBytes` in `store`: null for a global store (a copy in every instance). */
  async taskFor(topology: Topology, store: string, keyBytes: Uint8Array): Promise<string | null> {
    const s = topology.subtopologyOfStore(store);
    if (s === undefined) return null;
    let count = this.partitions.get(s.id);
    if (count === undefined) {
      count = this.runtime.log.admin.describeTopics([...s.sourceTopics]).then((ds) => Math.max(...ds.map((d) => d.partitions)));
      this.partitions.set(s.id, count);
      count.catch(() => this.partitions.delete(s.id));
    }
    return `${s.id}_${partitionForKey(keyBytes, await count)}`;
  }

  /** Where a query of `keyBytes` in `store` must be answered (see the file comment). */
  async route(store: string, keyBytes: Uint8Array): Promise<KeyRoute> {
    const topology = this.runtime.compiledTopology();
    if (topology === undefined) return unavailable(undefined, 503, MOVING, true, 'the application is starting');
    if (!topology.stores.has(store)) {
      return unavailable(undefined, 404, `no store named '${store}' (stores: ${[...topology.stores.keys()].join(', ') || 'none'})`, false, 'unknown store');
    }
    const task = await this.taskFor(topology, store, keyBytes);
    if (task === null) return { kind: 'local', task };
    const view = this.groupView();
    let owner: string;
    if (view.kind === 'single') owner = this.endpoint;
    else if (view.kind === 'unknown') return unavailable(task, 503, MOVING, true, 'the group is rebalancing');
    else {
      const owners = view.members.filter((m) => m.units.includes(task));
      if (owners.length !== 1) return unavailable(task, 503, MOVING, true, owners.length === 0 ? `task ${task} has no owner` : `task ${task} has ${owners.length} owners`);
      const endpoint = owners[0]!.endpoint;
      if (endpoint === undefined) return unavailable(task, 503, `the owner of task ${task} advertises no query endpoint`, false, 'no endpoint');
      owner = endpoint;
    }
    if (owner !== this.endpoint) return { kind: 'remote', task, endpoint: owner };
    if (!this.runtime.taskIds().includes(task)) return unavailable(task, 503, MOVING, true, `task ${task} is restoring or being handed over to this instance`);
    return { kind: 'local', task };
  }

  /**
   * Answers `GET /stores/<store>/keys/<key>`: locally, by forwarding to the owner, or with an
   * error (503 retriable while the task moves). Writes the JSON answer to `res`.
   */
  async handle(req: IncomingMessage, res: ServerResponse, query: HandleQueryOptions): Promise<void> {
    const forwarded = req.headers[FORWARDED_HEADER] !== undefined;
    let route: KeyRoute;
    try {
      route = this.storeDefinition(query.store) === undefined ? await this.route(query.store, Buffer.alloc(0)) : await this.route(query.store, this.keyBytes(query.store, query.keyText));
    } catch (err) {
      // the partition count could not be read (the log unreachable): retriable
      sendJson(res, 503, { error: MOVING, retriable: true, reason: err instanceof Error ? err.message : String(err) }, this.endpoint);
      return;
    }
    if (route.kind === 'unavailable') {
      sendJson(res, route.status, { error: route.error, retriable: route.retriable, reason: route.reason, ...(route.task !== undefined ? { task: route.task } : {}) }, this.endpoint);
      return;
    }
    if (route.kind === 'local') {
      const answer = await query.local();
      sendJson(res, answer.status, answer.body, this.endpoint);
      return;
    }
    if (forwarded) {
      // forwarded here by an instance that thought this one owns the task: views differ, so the task is moving
      sendJson(res, 503, { error: MOVING, retriable: true, reason: `forwarded to ${this.endpoint}, which does not run task ${route.task} (its owner is ${route.endpoint})`, task: route.task }, this.endpoint);
      return;
    }
    await this.forward(req, res, route.endpoint, route.task);
  }

  /**
   * The hooks that make the operations server's `/stores/<store>/keys/<key>` (http-stores.ts)
   * answer for the whole group: `resolveOwner` routes the key, `forward` proxies it to its owner,
   * or answers 503 `task moving` to a request that was forwarded already.
   *
   * @example
   * const ops = await startOpsServer(runtime, { port: 9464, host: '0.0.0.0', stores: router.storeQueryOptions() });
   */
  storeQueryOptions(): Pick<StoreQueryOptions, 'resolveOwner' | 'forward'> {
    return {
      resolveOwner: async (store, keyBytes): Promise<KeyOwner> => {
        const route = await this.route(store, keyBytes);
        const partition = (task: string | undefined) => (task === undefined ? -1 : Number(task.slice(task.lastIndexOf('_') + 1)));
        if (route.kind === 'local') return { kind: 'local' };
        if (route.kind === 'remote') return { kind: 'remote', task: route.task, partition: partition(route.task), owner: route.endpoint };
        // the server answers 503 { error: reason, retriable: true }
        return { kind: 'unavailable', task: route.task ?? '', partition: partition(route.task), reason: route.error };
      },
      forward: async (owner, req, res) => {
        if (owner.owner === undefined || req.headers[FORWARDED_HEADER] !== undefined) {
          const reason = owner.owner === undefined ? `the owner of task ${owner.task} is not known` : `forwarded to ${this.endpoint}, which does not run task ${owner.task} (its owner is ${owner.owner})`;
          sendJson(res, 503, { error: MOVING, retriable: true, reason, task: owner.task }, this.endpoint);
          return;
        }
        await this.forward(req, res, owner.owner, owner.task);
      },
    };
  }

  private async forward(req: IncomingMessage, res: ServerResponse, endpoint: string, task: string): Promise<void> {
    const { host, port } = parseEndpoint(endpoint);
    const answer = await new Promise<{ status: number; body: Buffer; contentType: string; servedBy: string } | { error: string }>((resolve) => {
      const out = httpRequest(
        { host, port, method: 'GET', path: req.url ?? '/', headers: { accept: 'application/json', [FORWARDED_HEADER]: this.endpoint }, timeout: this.forwardTimeoutMs },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () =>
            resolve({
              status: r.statusCode ?? 502,
              body: Buffer.concat(chunks),
              contentType: String(r.headers['content-type'] ?? 'application/json'),
              servedBy: String(r.headers[SERVED_BY_HEADER] ?? endpoint),
            }),
          );
          r.on('error', (e) => resolve({ error: e.message }));
        },
      );
      out.on('timeout', () => out.destroy(new Error(`no answer within ${this.forwardTimeoutMs} ms`)));
      out.on('error', (e) => resolve({ error: e.message }));
      out.end();
    });
    if ('error' in answer) {
      sendJson(res, 503, { error: MOVING, retriable: true, reason: `the owner of task ${task}, ${endpoint}, did not answer: ${answer.error}`, task }, this.endpoint);
      return;
    }
    res.writeHead(answer.status, { 'content-type': answer.contentType, [SERVED_BY_HEADER]: answer.servedBy });
    res.end(answer.body);
  }
}

function unavailable(task: string | undefined, status: number, error: string, retriable: boolean, reason: string): KeyRoute {
  return { kind: 'unavailable', ...(task !== undefined ? { task } : {}), status, error, retriable, reason };
}

/** A URL key as the store's key type: text for string keys, else JSON when it parses (numbers, objects), else text. */
export function keyFromText(def: StoreDefinition, text: string): unknown {
  if (def.keySerde.name === 'string') return text;
  if (def.keySerde.name === 'bytes') return Buffer.from(text, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `/stores/<store>/keys/<key>` (URL-encoded parts) as its store and key text; undefined for any other path. */
export function parseStoreKeyPath(url: string): { store: string; keyText: string } | undefined {
  const path = url.split('?')[0]!;
  const m = /^\/stores\/([^/]+)\/keys\/([^/]+)$/.exec(path);
  if (m === null) return undefined;
  try {
    return { store: decodeURIComponent(m[1]!), keyText: decodeURIComponent(m[2]!) };
  } catch {
    return undefined;
  }
}

/** What `runtime.store(name)` offers for a key-value lookup (StreamsRuntime has it). */
export interface KeyValueQueryable {
  store<S>(name: string): S;
}

/**
 * A key-value lookup in this instance's stores, as JSON: 200 `{ store, key, value }`, 404 when
 * the key has no value. For a router's `local` when no other local lookup is given.
 */
export function keyValueLookup(runtime: KeyValueQueryable, def: StoreDefinition, keyText: string): QueryAnswer {
  if (def.kind !== 'key-value') return { status: 400, body: { error: `store '${def.name}' is a ${def.kind} store: only key-value stores answer key lookups here`, retriable: false } };
  const key = keyFromText(def, keyText);
  const value = runtime.store<{ get(k: unknown): unknown }>(def.name).get(key);
  if (value === undefined || value === null) return { status: 404, body: { error: `no value for key ${JSON.stringify(keyText)} in store '${def.name}'`, retriable: false } };
  return { status: 200, body: { store: def.name, key: keyText, value } };
}

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(endpoint.slice(i + 1)) };
}

function sendJson(res: ServerResponse, status: number, body: unknown, servedBy: string): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), [SERVED_BY_HEADER]: servedBy });
  res.end(text);
}
