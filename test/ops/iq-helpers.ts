/**
 * A minimal query server for the interactive-query tests: `GET /stores/<store>/keys/<key>`
 * through an IqRouter, local answers by keyValueLookup. The application's HTTP server
 * (src/ops/http*.ts) does the same through the hook described in src/ops/iq-router.ts.
 */
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IqRouter, keyValueLookup, parseStoreKeyPath, type KeyValueQueryable } from '../../src/ops/iq-router.js';

export interface IqServer {
  server: Server;
  port: number;
  /** Requests this server received, forwarded ones included. */
  received: { url: string; forwarded: boolean }[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0: any free one) before the router exists, so the endpoint can be advertised first. */
export async function listenIq(): Promise<{ server: Server; port: number; attach(router: IqRouter, runtime: KeyValueQueryable): IqServer }> {
  let handler: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) | undefined;
  const received: IqServer['received'] = [];
  const server = createServer((req, res) => {
    received.push({ url: req.url ?? '', forwarded: req.headers['x-tributary-forwarded'] !== undefined });
    if (handler === undefined) {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'starting', retriable: true }));
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    attach(router, runtime) {
      handler = (req, res) => {
        const q = parseStoreKeyPath(req.url ?? '');
        if (q === undefined) {
          res.writeHead(404).end();
          return;
        }
        router
          .handle(req, res, {
            ...q,
            local: () => {
              const def = router.storeDefinition(q.store)!;
              return keyValueLookup(runtime, def, q.keyText);
            },
          })
          .catch((err: unknown) => {
            res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) }));
          });
      };
      return {
        server,
        port,
        received,
        close: () => new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
      };
    },
  };
}

/** GET http://127.0.0.1:<port><path> as { status, body (parsed JSON), servedBy }. */
export function getJson(port: number, path: string): Promise<{ status: number; body: any; servedBy: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body, servedBy: res.headers['x-tributary-served-by'] as string | undefined });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
