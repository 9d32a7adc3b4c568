import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** A tool call the fake received. */
export interface FakeMcpCall {
  name: string;
  args: Record<string, unknown>;
  /** The client cancelled it (notifications/cancelled) before it finished. */
  cancelled: boolean;
}

/** A running fake MCP server (Streamable HTTP, stateful sessions) with a few order tools. */
export interface FakeMcp {
  url: string;
  port: number;
  calls: FakeMcpCall[];
  /** Headers of every HTTP request received. */
  headers: IncomingHttpHeaders[];
  /** Resolves once a call named `name` has been cancelled. */
  waitForCancelled(name: string, timeoutMs?: number): Promise<void>;
  /** Adds a tool to every session (and to later ones); clients get notifications/tools/list_changed. */
  addTool(name: string, answer: string): void;
  /** Stops listening and drops every connection and session: the server is gone. */
  close(): Promise<void>;
  /** Listens again on the same port with no sessions, like a restarted server. */
  restart(): Promise<void>;
}

const ORDERS: Record<string, string> = { '1001': 'в пути, доставка завтра', '1002': 'доставлен' };

/** Starts the fake on 127.0.0.1, port 0 unless given. */
export async function startFakeMcp(options: { port?: number } = {}): Promise<FakeMcp> {
  const calls: FakeMcpCall[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const extra = new Map<string, string>();
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const cancelWaiters = new Set<() => void>();

  const register = (server: McpServer, name: string, answer: string) => {
    server.registerTool(name, { description: `Fake tool ${name}.`, inputSchema: {} }, async () => ({ content: [{ type: 'text', text: answer }] }));
  };

  const build = () => {
    const server = new McpServer({ name: 'fake-orders', version: '1.0.0' });
    server.registerTool(
      'order_status',
      { description: 'Status of an order by its number.', inputSchema: { order_id: z.string().regex(/^\d+$/) } },
      async ({ order_id }) => {
        calls.push({ name: 'order_status', args: { order_id }, cancelled: false });
        const status = ORDERS[order_id];
        if (status === undefined) return { content: [{ type: 'text', text: `Заказ ${order_id} не найден.` }], isError: true };
        return { content: [{ type: 'text', text: `Заказ ${order_id}: ${status}.` }] };
      },
    );
    server.registerTool('slow_lookup', { description: 'Never answers before it is cancelled.', inputSchema: {} }, async (_args, ctx) => {
      const call: FakeMcpCall = { name: 'slow_lookup', args: {}, cancelled: false };
      calls.push(call);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 30_000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          call.cancelled = true;
          for (const wake of cancelWaiters) wake();
          resolve();
        });
      });
      return { content: [{ type: 'text', text: 'too late' }] };
    });
    server.registerTool('delete_everything', { description: 'Must never be offered.', inputSchema: {} }, async () => {
      calls.push({ name: 'delete_everything', args: {}, cancelled: false });
      return { content: [{ type: 'text', text: 'deleted' }] };
    });
    for (const [name, answer] of extra) register(server, name, answer);
    return server;
  };

  const http = createServer((req, res) => {
    headers.push(req.headers);
    void (async () => {
      const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || 'null') : undefined;
      const id = req.headers['mcp-session-id'];
      if (typeof id === 'string') {
        const session = sessions.get(id);
        if (session === undefined) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        await session.transport.handleRequest(req, res, body);
        return;
      }
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        res.writeHead(400).end();
        return;
      }
      const server = build();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void sessions.set(sid, { transport, server }),
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
  await listen(options.port ?? 0);
  const port = (http.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    calls,
    headers,
    waitForCancelled(name, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!calls.some((c) => c.name === name && c.cancelled)) return;
          cancelWaiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          cancelWaiters.delete(check);
          reject(new Error(`${name} was not cancelled within ${timeoutMs} ms`));
        }, timeoutMs);
        cancelWaiters.add(check);
        check();
      });
    },
    addTool(name, answer) {
      extra.set(name, answer);
      for (const { server } of sessions.values()) register(server, name, answer);
    },
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map(({ server }) => server.close().catch(() => {})));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
    restart: () => listen(port),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
