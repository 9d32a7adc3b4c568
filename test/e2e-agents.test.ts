import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { agentProblemsOf } from '../src/agents/problems.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { expectedSpeechMs } from './fakes/yandex-tts-server.js';
import {
  answerScript, answerTo, callerText, greetingHeard, placeCall, say, ttsFor, voiceOf, waitFor, writeAgents, type AgentCall,
} from './support/agent-calls.js';
import { closeChannels, startStack, type Stack } from './support/stack.js';

const MS_PER_CHAR = 15;
/** Generous: a loaded machine can take long to answer even on loopback; the fault tests set their own. */
const CONTEXT_TIMEOUT_MS = 10_000;
const FAULT_CONTEXT_TIMEOUT_MS = 500;
const WARN = 40;
const ERROR = 50;

const SUPPORT = {
  name: 'support',
  language: 'ru',
  prompt: 'Ты помощник поддержки ({{agent}}). Звонит {{caller.number|неизвестно}}.',
  greeting: 'Алло, поддержка.',
  asr: { language: 'ru-RU' },
  tts: { voice: 'marina' },
};
const SALES = {
  name: 'sales',
  language: 'en',
  prompt: 'You sell. The caller dialled {{dialed}}.',
  greeting: 'Hello, you have reached the sales team.',
  asr: { language: 'en-US' },
  tts: { voice: 'naomi' },
};
const AGENTS = { default: 'support', agents: [SUPPORT, SALES] };

/** What a call on each agent must get, as its own prompt renders for the callers below. */
const EXPECTED = {
  support: { greeting: SUPPORT.greeting, voice: 'marina', language: 'ru-RU' },
  sales: { greeting: SALES.greeting, voice: 'naomi', language: 'en-US' },
};

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'e2e-agents-'))));
after(async () => {
  closeChannels();
  await rm(dir, { recursive: true, force: true });
});

let fileNo = 0;
/** A stack with ARI reading its agents from a file of its own, closed when the test ends. */
async function open(t: TestContext, env: Record<string, string> = {}): Promise<{ stack: Stack; file: string }> {
  const file = join(dir, `agents-${fileNo++}`, 'agents.yaml');
  await mkdir(join(file, '..'));
  await writeAgents(file, AGENTS);
  const stack = await startStack({
    ari: true,
    stt: { finalText: (u) => callerText(u.stream, u.utterance), eouSilenceMs: 300 },
    llm: { script: answerScript },
    tts: { msPerChar: MS_PER_CHAR },
    env: { AGENTS_FILE: file, AGENTS_CONTEXT_TIMEOUT_MS: String(CONTEXT_TIMEOUT_MS), ARI_CLEANUP_DELAY_MS: '50', ...env },
  });
  t.after(() => stack.close());
  return { stack, file };
}

let callNo = 0;
/** Places a call whose channel names `agent` (unset when undefined). */
function callOn(stack: Stack, agent: string | undefined, number = '+79990001122'): Promise<AgentCall> {
  const n = ++callNo;
  return placeCall(stack, {
    uuid: `30000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    channelId: `1732450000.${n}`,
    vars: agent === undefined ? {} : { VOICEBOT_AGENT: agent },
    number,
    exten: '2000',
  });
}

/** Asserts that the call was answered by `agent`: greeting heard, recognizer language, prompt, voice. */
async function assertAnsweredBy(stack: Stack, agentCall: AgentCall, agent: keyof typeof EXPECTED, prompt: string): Promise<void> {
  const want = EXPECTED[agent];
  const heardMs = await greetingHeard(agentCall.call, expectedSpeechMs(want.greeting, MS_PER_CHAR));
  assert.ok(Math.abs(heardMs - expectedSpeechMs(want.greeting, MS_PER_CHAR)) <= 60, `${agent}: heard ${heardMs} ms of greeting`);
  const session = stack.stt.sessions[agentCall.stream]!;
  assert.deepEqual(session.options?.recognition_model.language_restriction.language_code, [want.language]);
  const messages = await say(stack, agentCall);
  assert.deepEqual(messages.slice(0, 2), [
    { role: 'system', content: prompt },
    { role: 'assistant', content: want.greeting },
  ]);
  const reply = ttsFor(stack, answerTo(agentCall.stream, agentCall.turns - 1));
  assert.deepEqual(reply.map(voiceOf), [want.voice], `${agent}: voice of the reply`);
  const greetings = ttsFor(stack, want.greeting);
  assert.ok(greetings.length > 0 && greetings.every((r) => voiceOf(r) === want.voice), `${agent}: voice of the greeting`);
}

const supportPrompt = (number: string) => `Ты помощник поддержки (support). Звонит ${number}.`;
const salesPrompt = 'You sell. The caller dialled 2000.';
// A recognizer reconnect on a loaded machine is a fault of its own, with its own line: not counted here.
const notAsr = (l: Record<string, any>) => !String(l.err?.code ?? '').startsWith('asr_');
const warnings = (stack: Stack, since: number) => stack.logs.filter((l) => l.level >= WARN && l.time >= since && notAsr(l));
const warningsOf = (stack: Stack, agentCall: AgentCall) => stack.logs.filter((l) => l.level >= WARN && l.callId === agentCall.call.uuid && notAsr(l));
const reloads = (stack: Stack) => stack.logs.filter((l) => Array.isArray(l.changed));

/** One problem in each agent: both must be reported. */
const BAD = 'default: support\nagents:\n  - name: support\n    tts: { voise: marina }\n  - name: sales\n    language: en\n    prompt: "Hello {{caller.nmber}}"\n';
const BAD_LINES = ['agent "support": tts.voise: unknown field', 'agent "sales": prompt: unknown placeholder {{caller.nmber}}'];

// One at a time: their ARI context reads are timed, and a loaded machine stretches them.
describe('agents end to end', { concurrency: false }, () => {
  test('two concurrent calls on two agents each get their own prompt, voice, recognizer language and greeting', async (t) => {
    const { stack } = await open(t);
    const a = await callOn(stack, 'support', '+79991234567');
    const b = await callOn(stack, 'sales', '+15550001111');
    await Promise.all([assertAnsweredBy(stack, a, 'support', supportPrompt('+79991234567')), assertAnsweredBy(stack, b, 'sales', salesPrompt)]);
    assert.ok(a.call.active && b.call.active, 'both calls were up at once');
    const summaries = [stack.nextSummary(), stack.nextSummary()];
    await Promise.all([a.call.hangUp(), b.call.hangUp()]);
    const done = await Promise.all(summaries);
    assert.deepEqual(
      done.map((s) => [s.agent, s.callerNumber, s.dialed]).sort(),
      [['sales', '+15550001111', '2000'], ['support', '+79991234567', '2000']],
    );
  });

  test('a reload mid-call leaves the call on its agent and gives the next call the new prompt', async (t) => {
    const { stack, file } = await open(t);
    const first = await callOn(stack, 'sales');
    await greetingHeard(first.call);
    await writeAgents(file, { ...AGENTS, agents: [SUPPORT, { ...SALES, prompt: 'You sell, version two.' }] });
    await waitFor(() => reloads(stack).length > 0, 10_000, 'reload');

    assert.equal((await say(stack, first))[0]!.content, salesPrompt);
    await first.call.hangUp();
    const next = await callOn(stack, 'sales');
    await greetingHeard(next.call);
    assert.equal((await say(stack, next))[0]!.content, 'You sell, version two.');
    await next.call.hangUp();
    assert.deepEqual(reloads(stack).map((l) => l.changed), [['sales']], 'one reload, one log line');
  });

  test('a bad file on reload keeps the agents and logs one error', async (t) => {
    const { stack, file } = await open(t);
    const since = Date.now();
    await writeAgents(file, { ...AGENTS, agents: [{ ...SUPPORT, tts: { voise: 'x' } }, { ...SALES, prompt: 'Broken {{caller.nmber}}.' }] });
    await waitFor(() => stack.logs.some((l) => l.level >= ERROR), 10_000, 'rejection');
    const line = stack.logs.find((l) => l.level >= ERROR)!;
    assert.equal(line.problems.length, 2);

    const call = await callOn(stack, 'sales');
    await assertAnsweredBy(stack, call, 'sales', salesPrompt);
    await call.call.hangUp();
    assert.equal(stack.logs.filter((l) => l.level >= ERROR && l.time >= since).length, 1);
    assert.deepEqual(reloads(stack), []);
  });

  test('an unknown VOICEBOT_AGENT gets the default agent and one warning', async (t) => {
    const { stack } = await open(t);
    const since = Date.now();
    const call = await callOn(stack, 'nobody', '+74950000000');
    await assertAnsweredBy(stack, call, 'support', supportPrompt('+74950000000'));
    await call.call.hangUp();
    assert.equal(warnings(stack, since).length, 1, JSON.stringify(warnings(stack, since)));
  });

  // Down: every request fails at once. Stalled: none is answered, so the context budget ends the wait.
  for (const fault of ['down', 'stalled'] as const) {
    test(`ARI ${fault}: the default agent answers within the context budget`, async (t) => {
      // The stalled requests stay unanswered for the whole call: no timeout of theirs is logged.
      const { stack } = await open(t, { ARI_TIMEOUT_MS: '20000', AGENTS_CONTEXT_TIMEOUT_MS: String(FAULT_CONTEXT_TIMEOUT_MS) });
      const ari = stack.ari!;
      const broken = (on: boolean) => (fault === 'down' ? ari.setDown(on) : ari.setStall(on));
      const since = Date.now();
      broken(true);
      try {
        const call = await callOn(stack, 'sales');
        await waitFor(() => call.call.received.some((f) => f.voiced), 10_000, 'greeting');
        const firstAudioMs = call.call.received.find((f) => f.voiced)!.atMs;
        assert.ok(firstAudioMs < FAULT_CONTEXT_TIMEOUT_MS + 8_000, `greeting after ${firstAudioMs} ms`);
        await assertAnsweredBy(stack, call, 'support', supportPrompt('неизвестно'));
        const summary = stack.nextSummary();
        await call.call.hangUp();
        assert.equal((await summary).agent, 'support');
        // Down, the client also says once that ARI is unreachable.
        assert.equal(warningsOf(stack, call).length, 1, JSON.stringify(warnings(stack, since)));
        // Down: ARI unreachable, and this call's default agent; a loaded machine may also run out the budget.
        const count = warnings(stack, since).length;
        assert.ok(count >= 1 && count <= (fault === 'down' ? 3 : 2), JSON.stringify(warnings(stack, since)));
      } finally {
        broken(false);
      }
    });
  }

  test('a bad file at start: the app is not built, one config_invalid error lists every problem', async () => {
    const file = join(dir, 'bad-in-process.yaml');
    await writeFile(file, BAD);
    const config = loadConfig({ AGENTS_FILE: file, ASR_PROVIDER: 'yandex', YANDEX_API_KEY: 'k', AUDIOSOCKET_PORT: '0', HTTP_PORT: '0' });
    const err = await createApp(config, silentLogger()).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof VoicebotError && err.code === 'config_invalid', String(err));
    assert.deepEqual(agentProblemsOf(err)!.map((p) => [p.agent, p.path]), [['support', 'tts.voise'], ['sales', 'prompt']]);
  });

  test('a bad file at start: the server exits with status 2, listing every problem and nothing else', async () => {
    const file = join(dir, 'bad-main.yaml');
    await writeFile(file, BAD);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { PATH: process.env.PATH ?? '', AGENTS_FILE: file, ASR_PROVIDER: 'yandex', YANDEX_API_KEY: 'k', AUDIOSOCKET_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk));
    // Compiling the whole server on a loaded machine can take a while.
    const kill = setTimeout(() => child.kill(), 90_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(kill);
    assert.equal(code, 2, out);
    // Reported like a bad environment: the problems as plain lines, no stack, no JSON.
    assert.match(out, /^invalid agents file /m);
    for (const problem of BAD_LINES) assert.ok(out.includes(problem), `${problem} missing in ${out}`);
    assert.ok(!out.includes('"level"') && !out.includes('    at '), out);
  });
});
