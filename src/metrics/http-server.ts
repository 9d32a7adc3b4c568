import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';

/** Whether the process should receive new calls, and if not, why. */
export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** Options of `createOpsHttpServer`. */
export interface OpsHttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); callers skip creating the server when HTTP_PORT is 0. */
  port: number;
  log: Logger;
  /** Renders /metrics; without it /metrics is 404. */
  metrics?: { render(): Promise<string>; readonly contentType: string };
  /** Readiness besides draining, e.g. a required provider known to be down. */
  readiness?: () => Readiness;
}

/** The HTTP server for /metrics, /healthz and /readyz. */
export interface OpsHttpServer {
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** From now on /readyz answers 503 with reason `draining`. */
  markDraining(): void;
  readonly draining: boolean;
  /** The readiness /readyz reports right now. */
  readiness(): Readiness;
  /** Stops listening and drops open keep-alive connections. */
  close(): Promise<void>;
}

/** Creates the operations HTTP server (node:http, GET and HEAD only). */
export function createOpsHttpServer(options: OpsHttpServerOptions): OpsHttpServer {
  const log = options.log.child({ component: 'ops-http' });
  const startedAt = Date.now();
  let draining = false;
  let server: Server | undefined;

  function readiness(): Readiness {
    const reasons: string[] = [];
    if (draining) reasons.push('draining');
    if (options.readiness) {
      try {
        const extra = options.readiness();
        if (!extra.ready) reasons.push(...(extra.reasons.length > 0 ? extra.reasons : ['not ready']));
      } catch (err) {
        log.warn({ err }, 'readiness check failed');
        reasons.push('readiness check failed');
      }
    }
    return { ready: reasons.length === 0, reasons };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, req, 405, { 'content-type': 'application/json', allow: 'GET, HEAD' }, json({ error: 'method not allowed' }));
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    switch (path) {
      case '/healthz':
        send(res, req, 200, JSON_HEADERS, json({ status: 'ok', uptimeMs: Date.now() - startedAt }));
        return;
      case '/readyz': {
        const state = readiness();
        send(res, req, state.ready ? 200 : 503, JSON_HEADERS, json(state));
        return;
      }
      case '/metrics':
        if (options.metrics) {
          const body = await options.metrics.render();
          send(res, req, 200, { 'content-type': options.metrics.contentType }, body);
          return;
        }
        break;
    }
    send(res, req, 404, JSON_HEADERS, json({ error: 'not found' }));
  }

  return {
    get draining() {
      return draining;
    },
    markDraining() {
      draining = true;
    },
    readiness,
    listen() {
      const srv = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          log.error({ err, path: req.url }, 'ops request failed');
          if (!res.headersSent) send(res, req, 500, JSON_HEADERS, json({ error: 'internal error' }));
          else res.destroy();
        });
      });
      server = srv;
      return new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(options.port, options.host, () => {
          srv.off('error', reject);
          const port = (srv.address() as AddressInfo).port;
          log.info({ host: options.host, port }, 'ops http listening');
          resolve(port);
        });
      });
    },
    close() {
      const srv = server;
      server = undefined;
      if (!srv) return Promise.resolve();
      return new Promise((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      });
    },
  };
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function json(value: unknown): string {
  return JSON.stringify(value);
}

function send(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
