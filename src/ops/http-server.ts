/**
 * The operations HTTP server of a runtime (`tributary run --http-port`):
 *
 *   GET /metrics   Prometheus text format (RuntimeMetrics)
 *   GET /healthz   200 while the runtime has not failed, else 503
 *   GET /ready     200 when running and every assigned task has restored, else 503 with the reason
 *   GET /stores/…  interactive queries on this instance's key-value stores (http-stores.ts)
 *
 * Bound to 127.0.0.1 unless `host` says otherwise: it has no authentication.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TributaryError } from '../errors/index.js';
import type { Logger } from '../runtime/logger.js';
import { silentLogger } from '../runtime/logger.js';
import type { StreamsRuntime } from '../runtime/streams-runtime.js';
import { send, storeQueryHandler, type StoreQueryHandler, type StoreQueryOptions } from './http-stores.js';
import { RuntimeMetrics, type RuntimeMetricsOptions } from './metrics.js';

export interface OpsServerOptions {
  /** Port to listen on; 0 picks a free one (see OpsServer.port). */
  port: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  logger?: Logger;
  /** Lag interval, default Node metrics, ... */
  metrics?: Omit<RuntimeMetricsOptions, 'logger'>;
  /** Interactive queries: the owner resolver and forwarding hooks, size limits. */
  stores?: StoreQueryOptions;
}

export interface OpsServer {
  /** Base URL, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  readonly port: number;
  readonly metrics: RuntimeMetrics;
  readonly stores: StoreQueryHandler;
  /** Stops listening, ends open connections and stops the metrics' background work. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves a runtime's metrics, health, readiness and stores over HTTP. Start it before
 * `runtime.start()` so that probes answer (503) while the runtime starts and restores.
 *
 * @example
 * const runtime = new StreamsRuntime(app, { log });
 * const ops = await startOpsServer(runtime, { port: 9464 });
 * await runtime.start();
 * // curl http://127.0.0.1:9464/metrics
 */
export async function startOpsServer(runtime: StreamsRuntime, options: OpsServerOptions): Promise<OpsServer> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const metrics = new RuntimeMetrics(runtime, { ...options.metrics, logger });
  const stores = storeQueryHandler(runtime, options.stores);
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        if (await stores.handle(req, res)) return;
        if (req.method !== 'GET') return send(res, 405, { error: 'only GET is served' });
        if (path === '/metrics') {
          const text = await metrics.metrics();
          res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
          res.end(text);
        } else if (path === '/healthz') {
          const state = runtime.state;
          send(res, state === 'failed' ? 503 : 200, { status: state === 'failed' ? 'failed' : 'ok', state });
        } else if (path === '/ready') {
          const status = runtime.status();
          send(res, status.ready ? 200 : 503, status);
        } else {
          send(res, 404, { error: `no such path '${path}': try /metrics, /healthz, /ready or /stores` });
        }
      } catch (err) {
        if (!res.headersSent) send(res, 500, { error: err instanceof Error ? err.message : String(err) });
        else res.destroy();
      }
    })();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await metrics.close();
    const why = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the port is in use' : (err as Error).message;
    throw new TributaryError(`operations server: cannot listen on ${host}:${options.port}: ${why}`, { cause: err });
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info(`operations endpoints on ${url} (/metrics, /healthz, /ready, /stores)`);
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    metrics,
    stores,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await metrics.close();
      })();
      return closing;
    },
  };
}
