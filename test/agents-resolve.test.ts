import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { changedAgents } from '../src/agents/changes.js';
import { loadAgents } from '../src/agents/load.js';
import { agentProblemsOf, type AgentProblem } from '../src/agents/problems.js';
import { agentsFromEnv, defaultAgentFromEnv, resolveAgents } from '../src/agents/resolve.js';
import { agentForPort, selectAgent } from '../src/agents/select.js';
import type { AgentSettings } from '../src/agents/settings.js';
import { loadConfig, type Config } from '../src/config.js';
import { VoicebotError } from '../src/errors.js';
import { defaultSystemPrompt } from '../src/llm/config.js';
import { phrasesFor } from '../src/call/phrases.js';

/** A valid HTTP tool declaration. */
const LOOKUP_TOOL = { name: 'lookup_order', description: 'Looks an order up.', url: 'http://orders.local/orders/{id}', parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } };

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agents-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A configuration from exactly these variables (never the test process's environment). */
function envConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ ASR_PROVIDER: 'yandex', TTS_PROVIDER: 'yandex', YANDEX_API_KEY: 'k-123', ...env });
}

function problemsOf(run: () => unknown): AgentProblem[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof VoicebotError && err.code === 'config_invalid', `expected config_invalid, got ${String(err)}`);
    const problems = agentProblemsOf(err);
    assert.ok(problems !== undefined);
    return problems;
  }
  assert.fail('expected the agents to be rejected');
}

const where = (problems: readonly AgentProblem[]) => problems.map((p) => `${p.agent ?? '-'} ${p.path}`).sort();

const RICH_ENV = {
  BOT_LANGUAGE: 'ru',
  SYSTEM_PROMPT: 'Ты оператор. Звонит {{caller.number|аноним}}.',
  GREETING_TEXT: 'Алло!',
  GOODBYE_TEXT: 'Пока!',
  YANDEX_TTS_VOICE: 'ermil',
  LLM_MODEL: 'm-1',
  LLM_TEMPERATURE: '0.7',
  INACTIVITY_MS: '7000',
  BARGE_IN_MIN_CHARS: '4',
  TRANSFER_DESTINATIONS: 'sales=1001',
};

test('without an agents file the only agent is the environment bot, unchanged', async () => {
  const config = envConfig(RICH_ENV);
  const agents = await loadAgents(config);
  assert.equal(agents.defaultAgent, 'default');
  assert.deepEqual([...agents.agents.keys()], ['default']);
  assert.equal(agents.source, undefined);
  const agent = agents.agents.get('default')!;
  assert.deepEqual(agent.llm, config.llm);
  assert.deepEqual(agent.asr, config.asr);
  assert.deepEqual(agent.tts, config.tts);
  assert.deepEqual(agent.conversation, config.conversation);
  assert.equal(agent.promptTemplate, config.llm.systemPrompt);
  assert.deepEqual(agent.promptVariables, []);
  assert.deepEqual(agent.phrases, {
    greeting: 'Алло!',
    inactivity: 'Вы меня слышите?',
    goodbye: 'Пока!',
    cannotHear: 'Извините, я вас не слышу. Перезвоните, пожалуйста, позже.',
    transfer: 'Соединяю, подождите, пожалуйста.',
    fallback: phrasesFor('ru').fallback,
    filler: phrasesFor('ru').filler,
  });
  assert.deepEqual([agent.tools.http, agent.tools.mcp, agent.tools.allowHosts], [[], [], []]);
  assert.ok(Object.isFrozen(agent) && Object.isFrozen(agent.llm));
});

test('an agent that sets nothing but its name equals the environment bot', () => {
  for (const env of [{}, RICH_ENV, { BOT_LANGUAGE: 'en' }] as Record<string, string>[]) {
    const config = envConfig(env);
    const agents = resolveAgents({ agents: [{ name: 'default' }] }, config);
    assert.deepEqual(agents.agents.get('default'), defaultAgentFromEnv(config));
    assert.deepEqual(agents, agentsFromEnv(config));
  }
});

test("an agent's fields are laid over the environment's, the rest inherited", () => {
  const config = envConfig({ ...RICH_ENV, DEEPGRAM_API_KEY: 'dg-key', LLM_HISTORY_MAX_TURNS: '9' });
  const agents = resolveAgents(
    {
      timezone: 'Asia/Yekaterinburg',
      agents: [
        {
          name: 'support',
          prompt: 'Помогай абоненту {{caller.name}} по договору {{var.VOICEBOT_CONTRACT}}.',
          greeting: 'Поддержка, слушаю.',
          phrases: { inactivity: 'Алло?', fallback: 'Не расслышал.' },
          asr: { provider: 'deepgram', model: 'nova-3', language: 'ru', url: 'ws://127.0.0.1:7' },
          tts: { voice: 'alena', speed: 1.2, role: 'good' },
          llm: { baseUrl: 'http://127.0.0.1:8000/v1', model: 'llama', temperature: 0.1, maxTokens: 99, firstTokenTimeoutMs: 1500 },
          bargeIn: { enabled: false, minSpeechMs: 300 },
          inactivityMs: 15000,
          transfers: [{ name: 'billing', extension: '2002' }],
          tools: [LOOKUP_TOOL],
          allowHosts: ['orders.local'],
          port: 9101,
        },
      ],
    },
    config,
  );
  const agent = agents.agents.get('support')!;
  assert.equal(agent.timezone, 'Asia/Yekaterinburg');
  assert.equal(agent.port, 9101);
  assert.deepEqual(agent.llm, {
    ...config.llm,
    baseUrl: 'http://127.0.0.1:8000/v1',
    model: 'llama',
    temperature: 0.1,
    maxTokens: 99,
    firstTokenTimeoutMs: 1500,
    systemPrompt: agent.promptTemplate,
    transferDestinations: [{ name: 'billing', extension: '2002' }],
  });
  assert.equal(agent.llm.historyMaxTurns, 9);
  assert.deepEqual(agent.asr.deepgram, { ...config.asr.deepgram, model: 'nova-3', language: 'ru', url: 'ws://127.0.0.1:7' });
  assert.equal(agent.asr.provider, 'deepgram');
  assert.deepEqual(agent.asr.yandex, config.asr.yandex);
  assert.deepEqual(agent.tts.yandex, { ...config.tts.yandex, voice: 'alena', speed: 1.2, role: 'good' });
  assert.deepEqual(agent.conversation, {
    ...config.conversation,
    greetingText: 'Поддержка, слушаю.',
    inactivityPromptText: 'Алло?',
    inactivityMs: 15000,
    bargeIn: false,
    bargeInMinSpeechMs: 300,
  });
  assert.equal(agent.conversation.bargeInMinChars, 4);
  assert.equal(agent.phrases.greeting, 'Поддержка, слушаю.');
  assert.equal(agent.phrases.goodbye, 'Пока!');
  assert.equal(agent.phrases.fallback, 'Не расслышал.');
  assert.equal(agent.phrases.filler, phrasesFor('ru').filler);
  assert.deepEqual(agent.promptVariables, ['VOICEBOT_CONTRACT']);
  assert.deepEqual(agents.variables, ['VOICEBOT_CONTRACT']);
  assert.deepEqual(agent.tools.http.map((t) => t.name), ['lookup_order']);
  assert.deepEqual(agent.tools.allowHosts, ['orders.local']);
  assert.equal(agentForPort(agents, 9101), agent);
  assert.equal(agentForPort(agents, 9092), undefined);
});

test("an agent in another language gets that language's prompt, phrases and voices, not the environment's", () => {
  const config = envConfig({ GOODBYE_TEXT: 'Пока!', GREETING_TEXT: 'Алло!', TRANSFER_DESTINATIONS: 'sales=1001' });
  const agents = resolveAgents({ agents: [{ name: 'ru' }, { name: 'en', language: 'en', tts: { provider: 'local' } }] }, config);
  const en = agents.agents.get('en')!;
  assert.equal(en.language, 'en');
  assert.equal(en.llm.language, 'en');
  assert.equal(en.promptTemplate, defaultSystemPrompt('en', [{ name: 'sales', extension: '1001' }]));
  assert.equal(en.phrases.goodbye, 'Thank you for calling. Goodbye!');
  assert.equal(en.phrases.greeting, 'Hello! I am a voice assistant. How can I help you?');
  assert.equal(en.conversation.goodbyeText, undefined);
  assert.equal(en.phrases.fallback, phrasesFor('en').fallback);
  assert.equal(en.tts.provider, 'local');
  assert.equal(en.tts.local.voice, 'en-us');
  assert.equal(en.tts.yandex.voice, 'john');
  assert.equal(en.asr.yandex.language, 'en-US');
  const ru = agents.agents.get('ru')!;
  assert.equal(ru.phrases.goodbye, 'Пока!');
  assert.equal(ru.tts.yandex.voice, 'alena');
});

test('the local voice takes voice and speed (1 = 175 words per minute)', () => {
  const agents = resolveAgents({ agents: [{ name: 'a', tts: { provider: 'local', voice: 'ru', speed: 1.2 } }] }, envConfig());
  assert.deepEqual(agents.agents.get('a')!.tts.local, { ...envConfig().tts.local, voice: 'ru', rate: 210 });
});

test('every problem of the file is listed in one error, naming the agent and the field', () => {
  const config = loadConfig({ ASR_PROVIDER: 'vosk' });
  const problems = problemsOf(() =>
    resolveAgents(
      {
        timezone: 'Mars/Olympus',
        defualt: 'x',
        default: 'nobody',
        agents: [
          { name: 'a', tts: { voise: 'alena' }, language: 'de' },
          { name: 'b', promptFile: join(dir, 'missing.txt') },
          { name: 'c', prompt: 'Hi {{caller.phone}} and {{var.customer}}' },
          { name: 'd', tts: { provider: 'yandex' }, asr: { provider: 'deepgram' } },
          { name: 'A', port: 9092 },
          { name: 'e', port: 9300, transfers: [{ name: 'x', extension: '1' }, { name: 'X', extension: '2' }], timezone: 'Nowhere' },
          { name: 'f', port: 9300, asr: { model: 'big' }, tts: { provider: 'local', role: 'good' }, prompt: 'p', promptFile: 'q.txt' },
          { name: 'g', llm: { temperature: 5, baseUrl: 'ftp://x' }, inactivityMs: 10, tools: [{ ...LOOKUP_TOOL, name: 'hang_up' }, { ...LOOKUP_TOOL, name: undefined }] },
          { prompt: 'no name' },
        ],
      },
      config,
      { baseDir: dir, source: 'test.yaml' },
    ),
  );
  assert.deepEqual(where(problems), [
    '- default',
    '- defualt',
    '- timezone',
    'A name',
    'A port',
    'a language',
    'a tts.voise',
    'agents[8] name',
    'b promptFile',
    'c prompt',
    'c prompt',
    'd asr.provider',
    'd tts.provider',
    'e timezone',
    'e transfers[1].name',
    'f asr.model',
    'f port',
    'f promptFile',
    'f promptFile',
    'f tts.role',
    'g inactivityMs',
    'g llm.baseUrl',
    'g llm.temperature',
    'g tools[1].name',
  ].sort());
});

test('a built-in tool name in tools is refused', () => {
  const tools = [{ ...LOOKUP_TOOL, name: 'hang_up' }, { ...LOOKUP_TOOL, name: 't' }, { ...LOOKUP_TOOL, name: 't' }];
  const problems = problemsOf(() => resolveAgents({ agents: [{ name: 'a', tools, allowHosts: ['orders.local'] }] }, envConfig()));
  assert.deepEqual(where(problems), ['a tools[0].name', 'a tools[2].name']);
});

test('an unknown placeholder in SYSTEM_PROMPT is a configuration error too', () => {
  const problems = problemsOf(() => agentsFromEnv(envConfig({ SYSTEM_PROMPT: 'Hello {{callerid}}' })));
  assert.deepEqual(where(problems), ['- prompt (SYSTEM_PROMPT)']);
});

test('selectAgent picks by name in any case and falls back to the default', () => {
  const agents = resolveAgents({ default: 'support', agents: [{ name: 'sales' }, { name: 'support' }] }, envConfig());
  assert.deepEqual(pick(agents, 'sales'), ['sales', true]);
  assert.deepEqual(pick(agents, ' SALES '), ['sales', true]);
  assert.deepEqual(pick(agents, 'nobody'), ['support', false]);
  assert.deepEqual(pick(agents, undefined), ['support', false]);
  const first = resolveAgents({ agents: [{ name: 'one' }, { name: 'two' }] }, envConfig());
  assert.equal(first.defaultAgent, 'one');
});

function pick(agents: ReturnType<typeof resolveAgents>, name: string | undefined): [string, boolean] {
  const { agent, matched }: { agent: AgentSettings; matched: boolean } = selectAgent(agents, name);
  return [agent.name, matched];
}

test('changedAgents names the agents added, removed or changed', () => {
  const config = envConfig();
  const before = resolveAgents({ agents: [{ name: 'a' }, { name: 'b', prompt: 'x' }, { name: 'c' }] }, config);
  const after = resolveAgents({ agents: [{ name: 'a' }, { name: 'b', prompt: 'y' }, { name: 'd' }] }, config);
  assert.deepEqual(changedAgents(before, after), ['b', 'c', 'd']);
  assert.deepEqual(changedAgents(after, resolveAgents({ agents: [{ name: 'a' }, { name: 'b', prompt: 'y' }, { name: 'd' }] }, config)), []);
});

test('AGENTS_FILE and AGENTS_CONTEXT_TIMEOUT_MS are read from the environment', () => {
  assert.deepEqual(loadConfig({}).agents, { file: undefined, contextTimeoutMs: 500, env: {} });
  const env = { AGENTS_FILE: '/etc/voicebot/agents.yaml', AGENTS_CONTEXT_TIMEOUT_MS: '800' };
  assert.deepEqual(loadConfig(env).agents, { file: '/etc/voicebot/agents.yaml', contextTimeoutMs: 800, env });
  assert.throws(() => loadConfig({ AGENTS_CONTEXT_TIMEOUT_MS: 'soon' }), (err: unknown) => err instanceof VoicebotError && err.code === 'config_invalid');
});
