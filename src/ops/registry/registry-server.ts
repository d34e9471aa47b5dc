import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { TributaryError } from '../../errors/index.js';
import { silentLogger, type Logger } from '../../runtime/logger.js';
import { RegistryHttpError, registryErrors } from './registry-errors.js';
import type { RegistryRoutes } from './routes.js';

export interface SchemaRegistryOptions {
  /** TCP port; 0 picks a free one (see `url`). Default 8081, Confluent's. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1: the registry has no authentication. */
  host?: string;
  /** The SQLite file that holds the schemas, created if missing. Default `.tributary/registry.db`. */
  file?: string;
  /** Largest request body accepted, in bytes (413 beyond). Default 4 MiB. */
  maxBodyBytes?: number;
  /** Registrations and configuration changes at info, each request at debug. Default: silent. */
  logger?: Logger;
}

/** A running registry. */
export interface SchemaRegistryServer {
  /** Its base URL, e.g. `http://127.0.0.1:8081`: the `host` of a schema registry client. */
  readonly url: string;
  readonly port: number;
  /** The absolute path of its SQLite file. */
  readonly file: string;
  /** Stops listening, ends open connections and closes the file. */
  close(): Promise<void>;
}

export const DEFAULT_REGISTRY_PORT = 8081;
export const DEFAULT_REGISTRY_FILE = '.tributary/registry.db';
const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const ACCEPTED_BODY_TYPES = new Set([
  'application/vnd.schemaregistry.v1+json',
  'application/vnd.schemaregistry+json',
  'application/json',
  'application/octet-stream',
]);

/**
 * Starts an embedded schema registry: the REST subset of Confluent Schema Registry that clients
 * use (including @kafkajs/confluent-schema-registry), Avro schemas only, kept in a SQLite file.
 * Schema ids are global and stable across restarts; registering a schema a subject already has
 * returns its id; a new version is checked against the subject's compatibility level (BACKWARD
 * by default) with Avro's schema resolution rules.
 *
 * @example
 * const registry = await startSchemaRegistry({ port: 0, file: '/tmp/registry.db' });
 * const value = schemaRegistryAvro<Order>({ host: registry.url, schema: orderSchema });
 * // ...
 * await registry.close();
 */
export async function startSchemaRegistry(options: SchemaRegistryOptions = {}): Promise<SchemaRegistryServer> {
  const port = options.port ?? DEFAULT_REGISTRY_PORT;
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const logger = options.logger ?? silentLogger;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TributaryError(`schema registry: port must be an integer 0..65535, got ${port}`);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new TributaryError(`schema registry: maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  const file = options.file === ':memory:' ? ':memory:' : resolve(options.file ?? DEFAULT_REGISTRY_FILE);

  // Imported now, so that importing Tributary does not load SQLite and avsc for a registry it may never start.
  const [{ SchemaStore }, { RegistryRoutes }] = await Promise.all([import('./schema-store.js'), import('./routes.js')]);
  const store = new SchemaStore(file);
  const routes = new RegistryRoutes(store, logger);
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    void serve(req, res, routes, maxBodyBytes, logger);
  });
  try {
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        done();
      });
    });
  } catch (err) {
    store.close();
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? `port ${port} is in use (pick another port)` : (err as Error).message;
    throw new TributaryError(`schema registry: cannot listen on ${host}:${port}: ${why}`, { cause: err });
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info(`schema registry listening on ${url}`, { file });

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    file,
    close() {
      closing ??= new Promise<void>((done) => {
        server.close(() => {
          store.close();
          done();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, routes: RegistryRoutes, maxBodyBytes: number, logger: Logger): Promise<void> {
  const method = req.method ?? 'GET';
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?', 2);
  let status: number;
  try {
    const segments = pathSegments(rawPath);
    const body = method === 'POST' || method === 'PUT' ? await readBody(req, maxBodyBytes) : '';
    const reply = routes.handle({ method, segments, query: new URLSearchParams(rawQuery), body });
    status = reply.status;
    send(res, reply.status, reply.body);
  } catch (err) {
    const error = err instanceof RegistryHttpError ? err : registryErrors.storeError();
    if (!(err instanceof RegistryHttpError)) {
      // The message only: never the request body or headers, which may carry credentials.
      logger.error('schema registry: request failed', { method, path: rawPath, error: err instanceof Error ? err.message : String(err) });
    }
    status = error.status;
    send(res, error.status, error.toJSON(), error.status === 413);
  }
  logger.debug('schema registry: request', { method, path: rawPath, status });
}

/** '/subjects/a%2Fb/versions' -> ['subjects', 'a/b', 'versions']; a trailing slash is ignored. */
function pathSegments(rawPath: string): string[] {
  const parts = rawPath.split('/').slice(1);
  if (parts.at(-1) === '') parts.pop();
  return parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw registryErrors.badRequest('The request path is not valid percent-encoding');
    }
  });
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const type = req.headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase();
  if (type !== undefined && type !== '' && !ACCEPTED_BODY_TYPES.has(type)) return Promise.reject(registryErrors.unsupportedMediaType());
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(registryErrors.payloadTooLarge(limit));
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        fail(registryErrors.payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) done(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!failed) fail(registryErrors.badRequest(`The request body could not be read: ${err.message}`));
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown, closeConnection = false): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(status, headers).end(text);
}
