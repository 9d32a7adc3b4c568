import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { runCall } from '../src/sim/run-call.js';
import type { FakeReply } from './fakes/openai-server.js';
import { startFakeMcp } from './fakes/mcp-server.js';
import { closeChannels, startStack } from './support/stack.js';
import { waitFor } from './support/wait-for.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);
after(() => closeChannels());

const FILLER = 'Секунду, проверяю.';

/** A local order API whose answer, delay and status the test sets; it records what it saw. */
async function orderApi(behaviour: { delayMs?: number; status?: number } = {}) {
  const seen: { url: string; auth: string | undefined; aborted: boolean }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const entry = { url: req.url ?? '', auth: req.headers.authorization, aborted: false };
    seen.push(entry);
    res.on('close', () => (entry.aborted = !res.writableFinished));
    setTimeout(() => {
      if (res.destroyed) return;
      res.writeHead(behaviour.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(behaviour.status ? { error: 'internal' } : { status: 'в пути', eta: 'завтра', secret: 'x' }));
    }, behaviour.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
}

/** An agents file with the orders agent: one HTTP tool, optional MCP servers. */
async function agentsFile(mcpUrl?: string): Promise<{ path: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'voicebot-tools-'));
  const agent = {
    name: 'orders',
    language: 'ru',
    greeting: 'Алло.',
    allowHosts: ['127.0.0.1'],
    fillerDelayMs: 300,
    toolRounds: 3,
    tools: [
      {
        name: 'order_status',
        description: 'Статус заказа по номеру.',
        parameters: { type: 'object', properties: { order_id: { type: 'string', pattern: '^[0-9]{3,10}$' } }, required: ['order_id'], additionalProperties: false },
        method: 'GET',
        url: '${env:ORDER_API_URL}/orders/{order_id}',
        headers: { Authorization: 'Bearer ${env:ORDER_API_TOKEN}' },
        timeoutMs: 3000,
        response: { fields: ['status', 'eta'] },
      },
    ],
    ...(mcpUrl ? { mcp: [{ name: 'shop', url: mcpUrl, allowTools: ['order_status'], prefix: 'shop_' }] } : {}),
  };
  const path = join(dir, 'agents.json');
  await writeFile(path, JSON.stringify({ agents: [agent] }));
  return { path, dir };
}

/** The model: calls `tool` with `args` first, then answers from what the tool said. */
function toolThenAnswer(tool: string, args: string) {
  return (req: { body: any }): FakeReply => {
    const last = req.body.messages.at(-1);
    if (last.role !== 'tool') return { toolCalls: [{ name: tool, arguments: args }] };
    return { text: /error|Error|ошиб|unavailable|Invalid|invalid/.test(last.content) ? 'Извините, не получилось узнать.' : `По данным системы: ${last.content}.` };
  };
}

async function orderCall(options: { api?: { delayMs?: number; status?: number }; args?: string; hangUpOnToolCall?: boolean; script?: (req: { body: any }) => FakeReply }) {
  const api = await orderApi(options.api);
  const file = await agentsFile();
  const stack = await startStack({
    stt: { finalText: () => 'Где мой заказ номер 1234', eouSilenceMs: 800 },
    llm: { script: options.script ?? toolThenAnswer('order_status', options.args ?? '{"order_id":"1234"}') },
    tts: { msPerChar: 15 },
    env: { AGENTS_FILE: file.path, ORDER_API_URL: api.url, ORDER_API_TOKEN: 'orders-secret', BOT_LANGUAGE: 'ru', LOG_LEVEL: 'debug' },
  });
  try {
    const order = await audio('ru-order-16k.wav');
    const summary = stack.nextSummary(30_000);
    // The caller hangs up once the tool request has reached the API, however loaded the machine.
    const hangUp = new AbortController();
    const toolCalled = options.hangUpOnToolCall ? waitFor(() => api.seen.length > 0, 'the tool request', 60_000).catch(() => undefined).finally(() => hangUp.abort()) : undefined;
    const report = await runCall({
      port: stack.port,
      sampleRate: 16000,
      turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 300 }],
      replyEndSilenceMs: 600,
      signal: hangUp.signal,
    });
    await toolCalled;
    return { report, done: await summary, api, stack };
  } finally {
    await stack.close();
    await api.close();
    await rm(file.dir, { recursive: true, force: true });
  }
}

describe('business tools in a call', { concurrency: true }, () => {
  test('order status end to end: the model calls the tool, the reply carries its answer, nothing secret leaks', async () => {
    const { done, api, stack } = await orderCall({});
    assert.equal(api.seen.length, 1);
    assert.equal(api.seen[0]!.url, '/orders/1234');
    assert.equal(api.seen[0]!.auth, 'Bearer orders-secret');
    const continuation = stack.llm.requests[1]!.body;
    const toolMessage = continuation.messages.find((m: any) => m.role === 'tool');
    assert.match(toolMessage.content, /в пути/);
    assert.doesNotMatch(toolMessage.content, /secret/, 'only the selected fields reach the model');
    assert.ok(stack.llm.requests[0]!.body.tools.some((t: any) => t.function.name === 'order_status'));
    const said = done.transcript.filter((t) => t.role === 'bot').map((t) => t.text).join(' ');
    assert.match(said, /в пути/);
    assert.deepEqual(done.tools?.map((t) => [t.name, t.outcome]), [['order_status', 'ok']]);
    assert.ok(!JSON.stringify(stack.logs).includes('orders-secret'), 'the secret was logged');
  });

  test('a slow tool: the filler line is heard, then the answer', async () => {
    const { done } = await orderCall({ api: { delayMs: 1200 } });
    const said = done.transcript.filter((t) => t.role === 'bot').map((t) => t.text).join(' ');
    assert.ok(said.includes(FILLER), `no filler in "${said}"`);
    assert.ok(said.indexOf(FILLER) < said.indexOf('в пути'), 'the filler came after the answer');
  });

  test('a tool error: the model is told and apologises', async () => {
    const { done, stack } = await orderCall({ api: { status: 500 } });
    const toolMessage = stack.llm.requests[1]!.body.messages.find((m: any) => m.role === 'tool');
    assert.ok(toolMessage, 'the model got no tool result');
    assert.deepEqual(done.tools?.map((t) => t.outcome), ['http_error']);
    assert.match(done.transcript.filter((t) => t.role === 'bot').map((t) => t.text).join(' '), /Извините/);
  });

  test('bad arguments: no request is made, the model is told', async () => {
    const { done, api, stack } = await orderCall({ args: '{"order_id":"DROP TABLE"}' });
    assert.equal(api.seen.length, 0);
    assert.deepEqual(done.tools?.map((t) => t.outcome), ['invalid_arguments']);
    assert.ok(stack.llm.requests[1]!.body.messages.some((m: any) => m.role === 'tool'));
  });

  test('the caller hangs up during a tool call: the request is aborted on the wire', async () => {
    const { api } = await orderCall({ api: { delayMs: 20_000 }, hangUpOnToolCall: true });
    assert.equal(api.seen.length, 1);
    const deadline = Date.now() + 5000;
    while (!api.seen[0]!.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(api.seen[0]!.aborted, true, 'the tool request outlived the call');
  });

  test('tool rounds are bounded: a model that keeps calling tools gets the fallback line', async () => {
    const { stack, done } = await orderCall({ script: () => ({ toolCalls: [{ name: 'order_status', arguments: '{"order_id":"1234"}' }] }) });
    assert.equal(stack.llm.requests.length, 3, 'one request per allowed round');
    assert.equal(done.tools?.length, 3);
    assert.match(done.transcript.filter((t) => t.role === 'bot').map((t) => t.text).join(' '), /Извините/);
  });

  test('an MCP server that goes away: its tools are left out and the call goes on', async () => {
    const mcp = await startFakeMcp();
    const file = await agentsFile(mcp.url);
    const api = await orderApi();
    let turn = 0;
    const stack = await startStack({
      stt: { finalText: () => 'Где мой заказ номер 1002', eouSilenceMs: 800 },
      llm: {
        script: (req: { body: any }) => {
          const last = req.body.messages.at(-1);
          if (last.role === 'tool') return { text: 'Готово.' };
          turn++;
          return turn === 1 ? { toolCalls: [{ name: 'shop_order_status', arguments: '{"order_id":"1002"}' }] } : { text: 'Сейчас не могу проверить.' };
        },
      },
      tts: { msPerChar: 15 },
      env: { AGENTS_FILE: file.path, ORDER_API_URL: api.url, ORDER_API_TOKEN: 't', BOT_LANGUAGE: 'ru', LOG_LEVEL: 'info' },
    });
    try {
      const [order, number] = await Promise.all([audio('ru-order-16k.wav'), audio('ru-number-16k.wav')]);
      const summary = stack.nextSummary(30_000);
      const call = runCall({
        port: stack.port,
        sampleRate: 16000,
        turns: [
          { pcm: order.pcm, sampleRate: order.sampleRate, at: 300 },
          { pcm: number.pcm, sampleRate: number.sampleRate, afterReplyMs: 300 },
        ],
        replyEndSilenceMs: 600,
      });
      // The server goes away once its tool has answered.
      const deadline = Date.now() + 20_000;
      while (mcp.calls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await mcp.close();
      await call;
      const done = await summary;
      assert.equal(done.turns.length, 2, 'the call went on');
      const offered = (i: number) => (stack.llm.requests[i]!.body.tools ?? []).map((t: any) => t.function.name);
      assert.ok(offered(0).includes('shop_order_status'));
      assert.ok(!offered(stack.llm.requests.length - 1).includes('shop_order_status'), 'a tool of a server that is down was offered');
      assert.ok(offered(stack.llm.requests.length - 1).includes('order_status'), 'the HTTP tool stays');
    } finally {
      await stack.close();
      await api.close();
      await rm(file.dir, { recursive: true, force: true });
    }
  });
});
