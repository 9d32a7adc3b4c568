/** Calls placed the way Asterisk places them for an agent: the channel in ARI, its link, then the socket. */
import { rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { SimulatedCall } from '../../src/sim/simulated-call.js';
import { measureTone } from '../../src/sim/tone.js';
import type { FakeScript, RecordedRequest } from '../fakes/openai-server.js';
import type { RecordedTtsRequest } from '../fakes/yandex-tts-server.js';
import type { Stack } from './stack.js';

/** Waits until `check` holds, polling; throws naming `what` after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${ms} ms`);
    await sleep(10);
  }
}

/** Writes the agents file the way editors save: a new file renamed over the old one. */
export async function writeAgents(path: string, doc: unknown): Promise<void> {
  const temp = `${path}.tmp-${process.hrtime.bigint()}`;
  await writeFile(temp, typeof doc === 'string' ? doc : stringify(doc));
  await rename(temp, path);
}

/** What the recognizer fake "hears" in turn `turn` of stream `stream`. */
export const callerText = (stream: number, turn: number) => `caller ${stream} turn ${turn}`;

/** The fake model answers each request by repeating the caller's last words. */
export const answerScript: FakeScript = (request) => ({ text: `Answer to ${lastUserText(request)}.` });

/** The reply `answerScript` gives to `callerText(stream, turn)`. */
export const answerTo = (stream: number, turn: number) => `Answer to ${callerText(stream, turn)}.`;

function lastUserText(request: RecordedRequest): string | undefined {
  const messages = (request.body?.messages ?? []) as { role: string; content: unknown }[];
  const last = messages.filter((m) => m.role === 'user').at(-1)?.content;
  return typeof last === 'string' ? last : undefined;
}

/** The messages of the model request that answered `callerText(stream, turn)`, if it came. */
export function requestFor(stack: Stack, stream: number, turn: number): { role: string; content: string }[] | undefined {
  const request = stack.llm.requests.find((r) => lastUserText(r) === callerText(stream, turn));
  return request?.body.messages;
}

/** The synthesis requests for `text`. */
export const ttsFor = (stack: Stack, text: string): RecordedTtsRequest[] => stack.tts.requests.filter((r) => r.text === text);

/** The voice hint of a synthesis request. */
export const voiceOf = (request: RecordedTtsRequest): unknown => request.hints.find((h) => 'voice' in h)?.['voice'];

/** Where the dialplan has put the caller before `AudioSocket()`. */
export interface Dialled {
  uuid: string;
  channelId: string;
  vars?: Record<string, string>;
  number?: string;
  exten?: string;
}

/** A call in progress with its recognizer stream number (the fake's `UtteranceInfo.stream`). */
export interface AgentCall {
  call: SimulatedCall;
  stream: number;
  turns: number;
}

/**
 * Plays the dialplan's part (channel, variables, link), connects, and waits for the call's
 * recognizer stream. Calls on one stack must be placed one after another for `stream` to be theirs.
 */
export async function placeCall(stack: Stack, dialled: Dialled): Promise<AgentCall> {
  const ari = stack.ari!;
  ari.addChannel(dialled.channelId, dialled.vars ?? {}, {
    caller: { name: '', number: dialled.number ?? '1000' },
    dialplan: { context: 'voicebot', exten: dialled.exten ?? 's' },
  });
  ari.globals.set(`VOICEBOT_CHAN_${dialled.uuid}`, dialled.channelId);
  const stream = stack.stt.sessions.length;
  const call = await SimulatedCall.connect({ port: stack.port, uuid: dialled.uuid, sampleRate: 8000 });
  await waitFor(() => stack.stt.sessions.length > stream, 10_000, 'recognizer stream of the call');
  return { call, stream, turns: 0 };
}

/** Waits for the greeting to be over (heard, then 500 ms of silence); resolves with its sound in ms. */
export async function greetingHeard(call: SimulatedCall, expectedMs = 0, timeoutMs = 10_000): Promise<number> {
  const heard = (): number => measureTone(call.received.filter((f) => f.payload !== undefined).map((f) => ({ kind: f.kind, payload: f.payload! }))).soundMs;
  // Over once it has all sounded, or once it has been quiet for long (a loaded machine may pause it).
  await waitFor(
    () => {
      const last = call.received.findLast((f) => f.voiced);
      if (last === undefined) return false;
      const quiet = call.nowMs() - last.atMs;
      return (quiet > 300 && heard() >= expectedMs - 40) || quiet > 2000;
    },
    timeoutMs,
    'greeting',
  );
  return heard();
}

/** 400 ms of a 300 Hz tone: speech to the recognizer fake, which listens for energy. */
const UTTERANCE = (() => {
  const rate = 8000;
  const pcm = Buffer.alloc((rate * 400) / 1000 * 2);
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / rate)), i * 2);
  return pcm;
})();

/** The caller says its next turn; resolves with the model request's messages once the reply is synthesized. */
export async function say(stack: Stack, agentCall: AgentCall): Promise<{ role: string; content: string }[]> {
  const turn = agentCall.turns++;
  await agentCall.call.play(UTTERANCE);
  await waitFor(() => ttsFor(stack, answerTo(agentCall.stream, turn)).length > 0, 10_000, `reply to ${callerText(agentCall.stream, turn)}`);
  return requestFor(stack, agentCall.stream, turn)!;
}
