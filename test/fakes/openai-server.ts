import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { peerOf, recordConnections, type FakeConnection } from './connections.js';

/** One scripted answer of the fake Chat Completions endpoint. */
export interface FakeReply {
  /** Content to stream: a string is split into tokens (see `tokens`); an array is sent as is. */
  text?: string | readonly string[];
  /** How a string `text` is split; the server's setting (default 'bpe') otherwise. */
  tokens?: TokenStyle;
  /** Tool calls streamed after the text, each split into several argument deltas. */
  toolCalls?: readonly { id?: string; name: string; arguments: string }[];
  /** Answer with this HTTP status and a JSON error body instead of a stream. */
  status?: number;
  /** Delay before the first content token (after the headers and the role chunk), ms. */
  firstTokenMs?: number;
  /** Delay between tokens, ms. */
  tokenDelayMs?: number;
  /** Destroy the socket after this many content tokens. */
  cutAfterTokens?: number;
  /** Stop sending (but keep the connection open) after this many content tokens. */
  stallAfterTokens?: number;
  /** Never answer at all: no headers, no body. */
  hang?: boolean;
  finishReason?: string;
}

/** A request the fake received. */
export interface RecordedRequest {
  /** The client connection it came on (`FakeConnection.peer`). */
  peer: string;
  body: any;
  headers: IncomingHttpHeaders;
  /** The client went away before the reply was complete (a cancelled request). */
  aborted: boolean;
  completed: boolean;
}

/** Replies by request order (the last repeats), or computed from each request. */
export type FakeScript = readonly FakeReply[] | ((request: RecordedRequest, index: number) => FakeReply);

export interface FakeOpenAiOptions {
  script?: FakeScript;
  /** How string replies are split into tokens (default 'bpe'). */
  tokens?: TokenStyle;
  firstTokenMs?: number;
  tokenDelayMs?: number;
  /** The first request on each new connection waits this long (a handshake over a real network). */
  connectDelayMs?: number;
}

/** A running fake OpenAI-compatible server. */
export interface FakeOpenAi {
  baseUrl: string;
  /** Chat requests (and anything unknown); model listings are counted apart. */
  requests: RecordedRequest[];
  /** Every TCP connection clients opened, in order. */
  connections: FakeConnection[];
  /** The connection of each `GET /models`, in order. */
  modelListings: string[];
  /** How many requests were cancelled by the client. */
  abortedCount(): number;
  /** Resolves once `count` requests have been cancelled (or rejects after `timeoutMs`). */
  waitForAborted(count: number, timeoutMs?: number): Promise<void>;
  /** Replaces the script; the next request is its first (index 0). */
  setScript(script: FakeScript): void;
  close(): Promise<void>;
}

/**
 * How a string reply is cut into streamed tokens. 'bpe' is how real models stream: a word carries
 * the space before it, each punctuation mark is a token of its own, digits come in groups of up to
 * three, newlines on their own (`"готов"`, `"."`, `" Одну"`). 'trailing' glues each word to the
 * punctuation and the space after it (`"готов. "`, `"Одну "`).
 */
export type TokenStyle = 'bpe' | 'trailing';

const BPE_TOKEN = /\n+| ?[\p{L}\p{M}]+| ?\p{N}{1,3}| ?[^\s\p{L}\p{M}\p{N}]|[^\S\n]/gu;
const TRAILING_TOKEN = /[^\s\p{L}\p{M}\p{N}]*[\p{L}\p{M}\p{N}]+[^\s\p{L}\p{M}\p{N}]*[^\S\n]*|\S+[^\S\n]*|\n+|[^\S\n]+/gu;

/** Splits text into the tokens a model of the given style would stream. */
export function tokenize(text: string, style: TokenStyle = 'bpe'): string[] {
  return text.match(style === 'bpe' ? BPE_TOKEN : TRAILING_TOKEN) ?? [];
}

/**
 * A node:http server speaking the streamed Chat Completions protocol the way the openai package
 * parses it: `data: {chunk}\n\n` events, a role chunk, content and tool-call deltas, a finish
 * reason, then `data: [DONE]`. Past the end of an array script the last reply repeats.
 */
export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  let script: FakeScript = options.script ?? [{ text: 'Hello.' }];
  let scriptStart = 0;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const waiters: (() => void)[] = [];
  const modelListings: string[] = [];

  const served = new WeakSet<import('node:net').Socket>();
  const server = createServer((req, res) => {
    const delay = served.has(req.socket) ? 0 : (options.connectDelayMs ?? 0);
    served.add(req.socket);
    if (delay > 0) setTimeout(() => handle(req, res), delay);
    else handle(req, res);
  });
  const handle = (req: import('node:http').IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      modelListings.push(peerOf(req.socket));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'fake' }] }));
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        body = undefined;
      }
      const record: RecordedRequest = { peer: peerOf(req.socket), body, headers: req.headers, aborted: false, completed: false };
      const index = requests.length - scriptStart;
      requests.push(record);
      res.on('close', () => {
        if (!record.completed) {
          record.aborted = true;
          for (const wake of waiters.splice(0)) wake();
        }
      });
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions') || body === undefined) {
        sendError(res, 404, 'not found');
        record.completed = true;
        return;
      }
      const reply = typeof script === 'function' ? script(record, index) : script[Math.min(index, script.length - 1)] ?? {};
      void play(res, record, reply, options).catch(() => res.destroy());
    });
  };
  const connections = recordConnections(server);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const abortedCount = () => requests.filter((r) => r.aborted).length;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    connections,
    modelListings,
    abortedCount,
    async waitForAborted(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (abortedCount() < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} cancelled requests, saw ${abortedCount()}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    setScript(next) {
      script = next;
      scriptStart = requests.length;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function sendError(res: ServerResponse, status: number, message: string): void {
  const type = status === 401 ? 'invalid_api_key' : status >= 500 ? 'server_error' : 'invalid_request_error';
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type, code: type } }));
}

async function play(res: ServerResponse, record: RecordedRequest, reply: FakeReply, options: FakeOpenAiOptions): Promise<void> {
  if (reply.hang) return;
  if (reply.status !== undefined) {
    sendError(res, reply.status, `scripted failure ${reply.status}`);
    record.completed = true;
    return;
  }
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  let gone = false;
  void closed.then(() => (gone = true));
  const sleep = (ms: number) =>
    ms <= 0 ? Promise.resolve() : Promise.race([new Promise<void>((r) => setTimeout(r, ms).unref()), closed]);

  const model = String(record.body?.model ?? 'fake');
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };
  const send = (delta: object, finish: string | null = null) =>
    res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  send({ role: 'assistant', content: '' });
  const tokens = typeof reply.text === 'string' ? tokenize(reply.text, reply.tokens ?? options.tokens) : [...(reply.text ?? [])];
  const firstMs = reply.firstTokenMs ?? options.firstTokenMs ?? 0;
  const perToken = reply.tokenDelayMs ?? options.tokenDelayMs ?? 0;
  let sent = 0;
  // Tokens keep the model's own clock: a late timer does not push every later token back.
  let dueAt = performance.now();
  const step = async (first: boolean): Promise<boolean> => {
    dueAt += first ? firstMs : perToken;
    await sleep(dueAt - performance.now());
    if (gone) return false;
    if (reply.cutAfterTokens !== undefined && sent >= reply.cutAfterTokens) {
      // Let what was written reach the client first, then drop the connection mid-body.
      const socket = res.socket;
      if (socket) await new Promise<void>((resolve) => socket.write('', () => resolve()));
      socket?.destroy();
      return false;
    }
    if (reply.stallAfterTokens !== undefined && sent >= reply.stallAfterTokens) {
      await closed;
      return false;
    }
    return true;
  };
  for (const token of tokens) {
    if (!(await step(sent === 0))) return;
    send({ content: token });
    sent++;
  }
  const calls = reply.toolCalls ?? [];
  for (const [index, call] of calls.entries()) {
    if (!(await step(sent === 0))) return;
    send({ tool_calls: [{ index, id: call.id ?? `call_${index}`, type: 'function', function: { name: call.name, arguments: '' } }] });
    const third = Math.max(1, Math.ceil(call.arguments.length / 3));
    for (let at = 0; at < call.arguments.length; at += third) {
      send({ tool_calls: [{ index, function: { arguments: call.arguments.slice(at, at + third) } }] });
    }
    sent++;
  }
  if (!(await step(sent === 0 && tokens.length === 0 && calls.length === 0))) return;
  send({}, reply.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop'));
  res.write('data: [DONE]\n\n');
  record.completed = true;
  res.end();
}
