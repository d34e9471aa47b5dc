/**
 * Read-model queries over HTTP, as JSON. Only the named queries a projection declares
 * (`queries: { name: (db, params) => rows }`) are served: no table or SQL comes from the request,
 * so what the HTTP side can read is what the projection's author wrote, with parameters bound by
 * their own code. Each query runs against the live version, resolved per request, so a rebuild's
 * swap is seen at once and never half-way.
 *
 *   GET /projections                          -> [{ name, backend, version, live, queries }]
 *   GET /projections/<name>                   -> { name, live, versions: [{ version, state, ... }] }
 *   GET /projections/<name>/queries/<query>?a=1 -> { result }   (params: { a: '1' })
 *
 * Errors are JSON `{ error }` with 404 (unknown projection or query), 405 (not GET) or 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Projection } from './projection.js';
import type { ProjectionStore } from './projection-store.js';

export interface ProjectionQueryHandler {
  /** Answers a request under `/projections`; resolves false (nothing written) for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Closes the databases it opened. */
  close(): Promise<void>;
}

/** A request handler for the projections' queries, to mount in an application's own HTTP server. */
export function projectionQueryHandler(projections: readonly Projection<any, any>[]): ProjectionQueryHandler {
  const byName = new Map(projections.map((p) => [p.name, p]));
  const stores = new Map<string, Promise<ProjectionStore>>();
  const storeOf = (p: Projection<any, any>) => {
    let store = stores.get(p.name);
    if (store === undefined) {
      store = p.openStore();
      store.catch(() => stores.delete(p.name));
      stores.set(p.name, store);
    }
    return store;
  };

  return {
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const parts = url.pathname.split('/').filter((s) => s.length > 0).map((s) => decodeURIComponent(s));
      if (parts[0] !== 'projections') return false;
      try {
        if (req.method !== 'GET') return send(res, 405, { error: 'only GET is served' });
        if (parts.length === 1) {
          const list = await Promise.all(
            projections.map(async (p) => ({ name: p.name, backend: p.backend, version: p.version, live: (await (await storeOf(p)).liveVersion()) ?? null, queries: p.queryNames })),
          );
          return send(res, 200, list);
        }
        const projection = byName.get(parts[1]!);
        if (projection === undefined) return send(res, 404, { error: `no projection '${parts[1]}' (projections: ${[...byName.keys()].join(', ') || 'none'})` });
        const store = await storeOf(projection);
        if (parts.length === 2) return send(res, 200, { name: projection.name, live: (await store.liveVersion()) ?? null, versions: await store.versions() });
        if (parts.length === 4 && parts[2] === 'queries') {
          const query = parts[3]!;
          if (!projection.queryNames.includes(query)) {
            return send(res, 404, { error: `projection '${projection.name}' has no query '${query}' (queries: ${projection.queryNames.join(', ') || 'none'})` });
          }
          const params = Object.fromEntries(url.searchParams);
          return send(res, 200, { result: (await store.query(query, params)) ?? null });
        }
        return send(res, 404, { error: `no such path: try /projections, /projections/<name> or /projections/<name>/queries/<query>` });
      } catch (err) {
        return send(res, 500, { error: err instanceof Error ? err.message : String(err) });
      }
    },
    async close() {
      const opened = [...stores.values()];
      stores.clear();
      for (const s of opened) await (await s.catch(() => undefined))?.close();
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown): true {
  const text = JSON.stringify(body, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('base64') : v));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
  return true;
}

export interface ProjectionServer {
  readonly server: Server;
  /** `http://host:port` it listens on. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the projections' queries on their own HTTP server (what `tributary serve` runs). */
export async function serveProjections(options: { projections: readonly Projection<any, any>[]; port?: number; host?: string }): Promise<ProjectionServer> {
  const handler = projectionQueryHandler(options.projections);
  const server = createServer((req, res) => {
    void handler.handle(req, res).then((handled) => {
      if (!handled) send(res, 404, { error: 'not found: queries are under /projections' });
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await handler.close();
    },
  };
}
