/**
 * The order-status loop without any account: the local fakes play the recognizer, the model and
 * the voice, `order-api.ts` plays the shop, and a simulated caller asks about an order.
 *
 *   npm run demo:orders
 *
 * The fake model does what a real one would with examples/orders-agent.yaml: it calls
 * `order_status` with the number the caller said, then answers from the tool's result.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readWav } from '../src/audio/wav.js';
import { formatCallReport } from '../src/sim/report.js';
import { runCall } from '../src/sim/run-call.js';
import type { FakeReply } from '../test/fakes/openai-server.js';
import { closeChannels, startStack } from '../test/support/stack.js';
import { startOrderApi } from './order-api.js';

const token = 'demo-token';
const api = await startOrderApi({ token });
const dir = await mkdtemp(join(tmpdir(), 'voicebot-orders-'));
const agent = parse(await readFile(new URL('./orders-agent.yaml', import.meta.url), 'utf8'));
const agentsFile = join(dir, 'agents.json');
await writeFile(agentsFile, JSON.stringify({ agents: [agent] }));

const model = (req: { body: { messages: { role: string; content: string }[] } }): FakeReply => {
  const last = req.body.messages.at(-1)!;
  if (last.role === 'tool') return { text: `Нашла ваш заказ: ${last.content.replace(/[{}"]/g, ' ').replace(/\s+/g, ' ').trim()}.` };
  return { toolCalls: [{ name: 'order_status', arguments: '{"order_id":"1003"}' }] };
};
const stack = await startStack({
  stt: { finalText: () => 'Здравствуйте, где мой заказ номер тысяча три?', eouSilenceMs: 300 },
  llm: { script: model },
  tts: { msPerChar: 40 },
  env: { AGENTS_FILE: agentsFile, ORDER_API_URL: api.url, ORDER_API_TOKEN: token, LOG_LEVEL: process.env.DEMO_DEBUG ? 'debug' : 'info' },
});
try {
  const speech = await readWav(new URL('../../shared/audio/ru-order-16k.wav', import.meta.url).pathname);
  const summary = stack.nextSummary(60_000);
  const report = await runCall({ port: stack.port, sampleRate: 16000, turns: [{ pcm: speech.pcm, sampleRate: speech.sampleRate, at: 5500 }], replyEndSilenceMs: 800 });
  const done = await summary;
  process.stdout.write(`${formatCallReport(report)}\n\n`);
  for (const line of done.transcript) process.stdout.write(`${line.role === 'caller' ? 'caller' : 'bot   '}: ${line.text}\n`);
  if (process.env.DEMO_DEBUG) for (const l of stack.logs) if (l.callId) process.stdout.write(`${l.msg} ${JSON.stringify({ text: l.text, code: l.code })}\n`);
  for (const tool of done.tools ?? []) process.stdout.write(`tool  : ${tool.name} ${tool.outcome} in ${tool.durationMs} ms\n`);
} finally {
  await stack.close();
  closeChannels();
  await api.close();
  await rm(dir, { recursive: true, force: true });
}
