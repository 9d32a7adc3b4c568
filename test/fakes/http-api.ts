import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the fake API received. */
export interface ApiRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The client closed the connection before the answer was complete. */
  aborted: boolean;
}

/** Answers one request; may take its time, stream, or never answer. */
export type ApiHandler = (req: ApiRequest, res: ServerResponse) => void | Promise<void>;

/** A running fake HTTP API that records every request. */
export interface FakeApi {
  origin: string;
  port: number;
  requests: ApiRequest[];
  setHandler(handler: ApiHandler): void;
  /** Resolves once `count` requests have been aborted by the client. */
  waitForAborted(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1 port 0; by default it answers `{"ok":true}`. */
export async function startFakeApi(handler: ApiHandler = (_req, res) => json(res, 200, { ok: true })): Promise<FakeApi> {
  let current = handler;
  const requests: ApiRequest[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    void (async () => {
      const record: ApiRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: await readBody(req), aborted: false };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished) {
          record.aborted = true;
          for (const wake of waiters) wake();
        }
      });
      await current(record, res);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    setHandler(next) {
      current = next;
    },
    waitForAborted(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.filter((r) => r.aborted).length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fewer than ${count} aborted requests within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sends a JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
