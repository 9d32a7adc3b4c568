import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Agent } from 'undici';
import { requestFetch } from '../src/net/request-fetch.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const seen: Seen[] = [];
let respond: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok');
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
  respond(req, res);
});
const agent = new Agent();
const fetch = requestFetch(agent);
let base = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  await agent.close();
  server.close();
});

test('a JSON request goes out with its method, headers and body, and the answer reads as a Response', async () => {
  respond = (_req, res) => {
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'r-1' });
    res.end('{"ok":true}');
  };
  const headers = new Headers({ 'Content-Type': 'application/json', Authorization: 'Bearer k', 'Accept-Encoding': 'gzip' });
  const response = await fetch(`${base}/v1/chat?x=1`, { method: 'post', headers, body: '{"q":1}' });
  assert.equal(response.status, 201);
  assert.equal(response.ok, true);
  assert.equal(response.headers.get('x-request-id'), 'r-1');
  assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
  assert.deepEqual(await response.json(), { ok: true });
  const request = seen.at(-1)!;
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/v1/chat?x=1');
  assert.equal(request.headers.authorization, 'Bearer k');
  assert.equal(request.headers['accept-encoding'], undefined, 'a streamed answer must not be compressed');
  assert.equal(request.body, '{"q":1}');
});

test('form parameters get their content type; a compressed answer is decoded', async () => {
  respond = (_req, res) => {
    const packed = gzipSync(Buffer.from('распаковано'));
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.length) });
    res.end(packed);
  };
  const response = await fetch(new URL(`${base}/tts`), { method: 'POST', body: new URLSearchParams({ text: 'привет' }) });
  assert.equal(await response.text(), 'распаковано');
  assert.equal(response.headers.get('content-encoding'), null);
  assert.match(String(seen.at(-1)!.headers['content-type']), /^application\/x-www-form-urlencoded/);
  assert.equal(new URLSearchParams(seen.at(-1)!.body).get('text'), 'привет');
});

test('an answer without a body by definition, and an error status, are answers too', async () => {
  respond = (req, res) => {
    res.writeHead(req.method === 'HEAD' ? 200 : req.url === '/empty' ? 204 : 503);
    res.end(req.method === 'HEAD' || req.url === '/empty' ? undefined : 'busy');
  };
  assert.equal((await fetch(`${base}/empty`)).status, 204);
  assert.equal((await fetch(`${base}/`, { method: 'HEAD' })).status, 200);
  const busy = await fetch(`${base}/busy`);
  assert.equal(busy.status, 503);
  assert.equal(busy.ok, false);
  assert.equal(await busy.text(), 'busy');
});

test('an abort stops the request, and one mid-body stops the body', async () => {
  let release: () => void = () => {};
  respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    release = () => res.end();
  };
  const controller = new AbortController();
  const response = await fetch(`${base}/stream`, { signal: controller.signal });
  const reader = response.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), 'data: 1\n\n');
  controller.abort();
  await assert.rejects(reader.read(), (err: Error) => err.name === 'AbortError');
  release();
  await assert.rejects(fetch(`${base}/again`, { signal: AbortSignal.abort() }), (err: Error) => err.name === 'AbortError');
});

test('a body it does not handle itself goes through fetch', async () => {
  respond = (_req, res) => res.end('streamed');
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('chunked body'));
      controller.close();
    },
  });
  const response = await fetch(`${base}/upload`, { method: 'POST', body, duplex: 'half' } as RequestInit);
  assert.equal(await response.text(), 'streamed');
  assert.equal(seen.at(-1)!.body, 'chunked body');
});
