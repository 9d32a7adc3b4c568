import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** A channel the fake Asterisk knows. */
export interface FakeChannel {
  id: string;
  name: string;
  state: string;
  vars: Map<string, string>;
  /** Caller ID, read by CALLERID(num|name) and shown in the channel JSON. */
  caller: { name: string; number: string };
  /** Where the channel is in the dialplan; `exten` is the dialled extension. */
  dialplan: { context: string; exten: string };
}

/** One request the fake received, recorded on arrival. */
export interface FakeAriRequest {
  method: string;
  /** Path without the query, e.g. /ari/channels/1700000000.1. */
  path: string;
  query: Record<string, string>;
  /** Date.now() when the request arrived. */
  at: number;
}

/** A running fake ARI; every setting can change between requests. */
export interface FakeAri {
  /** Base URL to put in ARI_URL (http://127.0.0.1:<port>). */
  url: string;
  channels: Map<string, FakeChannel>;
  /** Asterisk's globals: a POST without `value` deletes one, a GET of an unset one answers 200 "". */
  globals: Map<string, string>;
  requests: FakeAriRequest[];
  /** The globals as `dialplan show globals` lists them (`NAME=value`, sorted), those starting with `prefix`. */
  listGlobals(prefix?: string): string[];
  addChannel(id: string, vars?: Record<string, string>, where?: { caller?: FakeChannel['caller']; dialplan?: FakeChannel['dialplan'] }): FakeChannel;
  removeChannel(id: string): void;
  /** Down: every connection is dropped without an answer, as if Asterisk had gone away. */
  setDown(down: boolean): void;
  /** Stalled: requests are accepted but never answered. */
  setStall(stall: boolean): void;
  /** Answers every request this many ms late. */
  setDelay(ms: number): void;
  /** Sends an event to every connected /ari/events socket. */
  emitEvent(event: Record<string, unknown>): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
}

const NOT_FOUND: Reply = { status: 404, body: { message: 'Channel not found' } };
const NOT_IN_STASIS: Reply = { status: 409, body: { message: 'Channel not in Stasis application' } };

/** A dialplan function read as a variable: CALLERID answers ("" when empty), others fail as in Asterisk. */
function readFunction(channel: FakeChannel, name: string): Reply {
  const callerId = /^CALLERID\((num|name)\)$/i.exec(name);
  if (callerId === null) return { status: 500, body: { message: 'Unable to read provided function' } };
  return { status: 200, body: { value: callerId[1]!.toLowerCase() === 'num' ? channel.caller.number : channel.caller.name } };
}

/** Starts a fake Asterisk REST Interface on 127.0.0.1, port 0, with the real statuses and bodies. */
export async function startFakeAri({ user, password }: { user: string; password: string }): Promise<FakeAri> {
  const channels = new Map<string, FakeChannel>();
  const globals = new Map<string, string>();
  const requests: FakeAriRequest[] = [];
  const sockets = new Set<Socket>();
  const pending = new Set<NodeJS.Timeout>();
  let down = false;
  let stall = false;
  let delayMs = 0;

  const authorized = (req: IncomingMessage, query: URLSearchParams): boolean => {
    const header = req.headers.authorization;
    if (header?.startsWith('Basic ') === true) {
      return Buffer.from(header.slice(6), 'base64').toString() === `${user}:${password}`;
    }
    return query.get('api_key') === `${user}:${password}`;
  };

  const channelJson = (channel: FakeChannel) => ({
    id: channel.id,
    name: channel.name,
    state: channel.state,
    protocol_id: '',
    caller: { ...channel.caller },
    connected: { name: '', number: '' },
    accountcode: '',
    dialplan: { ...channel.dialplan, priority: 5, app_name: 'AudioSocket', app_data: '' },
    creationtime: new Date().toISOString(),
    language: 'en',
  });

  function route(method: string, path: string, query: URLSearchParams): Reply {
    if (path === '/ari/asterisk/info' && method === 'GET') {
      return { status: 200, body: { system: { version: '22.10.1', entity_id: '00:00:00:00:00:00' } } };
    }
    if (path === '/ari/asterisk/ping' && method === 'GET') {
      return { status: 200, body: { asterisk_id: '00:00:00:00:00:00', ping: 'pong', timestamp: new Date().toISOString() } };
    }
    if (path === '/ari/asterisk/variable') {
      const name = query.get('variable');
      if (name === null || name === '') return { status: 400, body: { message: 'Variable name is required' } };
      if (method === 'GET') return { status: 200, body: { value: globals.get(name) ?? '' } };
      if (method === 'POST') {
        const value = query.get('value');
        if (value === null) globals.delete(name);
        else globals.set(name, value);
        return { status: 204 };
      }
      return { status: 405, body: { message: 'Invalid method' } };
    }
    if (path === '/ari/channels' && method === 'GET') {
      return { status: 200, body: [...channels.values()].map(channelJson) };
    }
    const match = /^\/ari\/channels\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
    if (match !== null) {
      const channel = channels.get(decodeURIComponent(match[1] ?? ''));
      const action = match[2];
      if (action === undefined) {
        if (method === 'GET') return channel === undefined ? NOT_FOUND : { status: 200, body: channelJson(channel) };
        if (method === 'DELETE') {
          if (channel === undefined) return NOT_FOUND;
          channels.delete(channel.id);
          return { status: 204 };
        }
        return { status: 405, body: { message: 'Invalid method' } };
      }
      if (action === 'variable' && method === 'GET') {
        const name = query.get('variable');
        if (name === null || name === '') return { status: 400, body: { message: 'Variable name is required' } };
        if (channel === undefined) return { status: 404, body: { message: 'Provided channel was not found' } };
        if (name.endsWith(')')) return readFunction(channel, name);
        const value = channel.vars.get(name);
        if (value === undefined) return { status: 404, body: { message: 'Provided variable was not found' } };
        return { status: 200, body: { value } };
      }
      if (method === 'POST' && ['variable', 'redirect', 'continue', 'move'].includes(action)) {
        return channel === undefined ? NOT_FOUND : NOT_IN_STASIS;
      }
    }
    return { status: 404, body: { message: 'Resource not found' } };
  }

  function send(res: ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    if (reply.body === undefined) {
      res.writeHead(reply.status).end();
      return;
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  }

  const server = createServer((req, res) => {
    const parsed = new URL(req.url ?? '/', 'http://fake');
    requests.push({ method: req.method ?? 'GET', path: parsed.pathname, query: Object.fromEntries(parsed.searchParams), at: Date.now() });
    if (down) {
      req.socket.destroy();
      return;
    }
    if (stall) return;
    const answer = () => {
      if (!authorized(req, parsed.searchParams)) {
        res.setHeader('www-authenticate', 'Basic realm="Asterisk REST Interface"');
        send(res, { status: 401, body: { message: 'Authentication required' } });
        return;
      }
      send(res, route(req.method ?? 'GET', parsed.pathname, parsed.searchParams));
    };
    if (delayMs <= 0) {
      answer();
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(timer);
      answer();
    }, delayMs);
    pending.add(timer);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const events = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const parsed = new URL(req.url ?? '/', 'http://fake');
    requests.push({ method: 'GET', path: parsed.pathname, query: Object.fromEntries(parsed.searchParams), at: Date.now() });
    if (down || parsed.pathname !== '/ari/events' || !authorized(req, parsed.searchParams)) {
      const status = parsed.pathname !== '/ari/events' ? '404 Not Found' : '401 Unauthorized';
      socket.end(`HTTP/1.1 ${down ? '503 Service Unavailable' : status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    events.handleUpgrade(req, socket, head, (ws: WebSocket) => events.emit('connection', ws, req));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    channels,
    globals,
    requests,
    listGlobals(prefix = '') {
      return [...globals].filter(([name]) => name.startsWith(prefix)).map(([name, value]) => `${name}=${value}`).sort();
    },
    addChannel(id, vars = {}, where = {}) {
      const channel: FakeChannel = {
        id,
        name: `PJSIP/caller-${id}`,
        state: 'Up',
        vars: new Map(Object.entries(vars)),
        caller: where.caller ?? { name: '', number: '1000' },
        dialplan: where.dialplan ?? { context: 'voicebot', exten: 's' },
      };
      channels.set(id, channel);
      return channel;
    },
    removeChannel(id) {
      channels.delete(id);
    },
    setDown(value) {
      down = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    setStall(value) {
      stall = value;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    emitEvent(event) {
      const text = JSON.stringify({ timestamp: new Date().toISOString(), application: 'voicebot', ...event });
      for (const client of events.clients) client.send(text);
    },
    async close() {
      for (const timer of pending) clearTimeout(timer);
      for (const client of events.clients) client.terminate();
      events.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
