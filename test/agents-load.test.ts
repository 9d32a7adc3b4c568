import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { GREETING_RATES, loadAgents } from '../src/agents/load.js';
import { agentProblemsOf, type AgentProblem } from '../src/agents/problems.js';
import { resolveAgents } from '../src/agents/resolve.js';
import { agentForPort, greetingAudioFor } from '../src/agents/select.js';
import { encodeWav } from '../src/audio/wav.js';
import { loadConfig, type Config } from '../src/config.js';
import { VoicebotError } from '../src/errors.js';

const root = new URL('..', import.meta.url).pathname;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agents-load-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A configuration from exactly these variables (never the test process's environment). */
function envConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ ASR_PROVIDER: 'yandex', TTS_PROVIDER: 'yandex', YANDEX_API_KEY: 'k-123', ...env });
}

const withFile = (config: Config, file: string): Config => ({ ...config, agents: { ...config.agents, file } });

function problemsOf(run: () => unknown): AgentProblem[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof VoicebotError && err.code === 'config_invalid', `expected config_invalid, got ${String(err)}`);
    return agentProblemsOf(err) ?? [];
  }
  assert.fail('expected the agents to be rejected');
}

async function rejection(run: () => Promise<unknown>): Promise<AgentProblem[]> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof VoicebotError && err.code === 'config_invalid', `expected config_invalid, got ${String(err)}`);
    return agentProblemsOf(err) ?? [];
  }
  assert.fail('expected the agents to be rejected');
}

const where = (problems: readonly AgentProblem[]) => problems.map((p) => `${p.agent ?? '-'} ${p.path}`).sort();

function tone(ms: number, rate: number): Buffer {
  const pcm = Buffer.alloc(Math.round((ms / 1000) * rate) * 2);
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  return pcm;
}

test('an empty file, a file without agents and a YAML syntax error are rejected clearly', async () => {
  const config = envConfig();
  assert.deepEqual(where(problemsOf(() => resolveAgents(null, config))), ['- ']);
  assert.deepEqual(where(problemsOf(() => resolveAgents({ agents: [] }, config))), ['- agents']);
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'agents:\n  - name: a\n    prompt: "unclosed\n');
  const problems = await rejection(() => loadAgents(withFile(config, bad)));
  assert.ok(problems.length >= 1);
  const missing = await rejection(() => loadAgents(withFile(config, join(dir, 'nope.yaml'))));
  assert.deepEqual(where(missing), ['- ']);
});

test('loadAgents reads YAML or JSON, prompt files beside it, and decodes greetings at both entry rates', async () => {
  const config = envConfig();
  await mkdir(join(dir, 'load'), { recursive: true });
  await writeFile(join(dir, 'load', 'prompt.txt'), '  Ты помощник {{agent}}.  \n');
  await writeFile(join(dir, 'load', 'hello.wav'), encodeWav(tone(500, 22050), 22050));
  const yamlPath = join(dir, 'load', 'agents.yaml');
  await writeFile(yamlPath, 'default: b\nagents:\n  - name: a\n    promptFile: prompt.txt\n  - name: b\n    greetingFile: hello.wav\n    greeting: Привет\n');
  const agents = await loadAgents(withFile(config, yamlPath));
  assert.equal(agents.defaultAgent, 'b');
  assert.equal(agents.source, yamlPath);
  assert.equal(agents.agents.get('a')!.promptTemplate, 'Ты помощник {{agent}}.');
  const b = agents.agents.get('b')!;
  assert.equal(b.conversation.greetingFile, join(dir, 'load', 'hello.wav'));
  assert.equal(b.phrases.greeting, 'Привет');
  assert.deepEqual([...b.greetingAudio!.keys()], [...GREETING_RATES]);
  assert.equal(b.greetingAudio!.get(8000)!.length, 8000);
  assert.equal(b.greetingAudio!.get(16000)!.length, 16000);
  const audio = greetingAudioFor(b)!;
  assert.equal((await audio(16000)).length, 16000);
  assert.equal((await audio(24000)).length, 24000);
  assert.equal(greetingAudioFor(agents.agents.get('a')!), undefined);

  const jsonPath = join(dir, 'load', 'agents.json');
  await writeFile(jsonPath, JSON.stringify({ agents: [{ name: 'j', language: 'en' }] }));
  const fromJson = await loadAgents(withFile(config, jsonPath));
  assert.equal(fromJson.agents.get('j')!.language, 'en');
});

test('an unreadable greeting file is listed with the other problems', async () => {
  const config = envConfig();
  const path = join(dir, 'greet.yaml');
  await writeFile(path, 'agents:\n  - name: a\n    greetingFile: none.wav\n  - name: b\n    greetingFile: none.mp3\n    tts: { voice: 3 }\n');
  assert.deepEqual(where(await rejection(() => loadAgents(withFile(config, path)))), ['a greetingFile', 'b tts.voice']);
  const fromEnv = envConfig({ GREETING_FILE: join(dir, 'absent.wav') });
  assert.deepEqual(where(await rejection(() => loadAgents(fromEnv))), ['- GREETING_FILE']);
});

test('the example agents file is valid: a Russian support agent and an English sales agent', async () => {
  const config = envConfig();
  const agents = await loadAgents(withFile(config, join(root, 'examples', 'agents.yaml')));
  const support = agents.agents.get('support')!;
  const sales = agents.agents.get('sales')!;
  assert.equal(agents.defaultAgent, 'support');
  assert.equal(support.language, 'ru');
  assert.equal(sales.language, 'en');
  assert.notEqual(support.tts.yandex.voice, sales.tts.yandex.voice);
  assert.notEqual(support.promptTemplate, sales.promptTemplate);
  assert.equal(agentForPort(agents, 9093), sales);
  assert.deepEqual([...agents.variables].sort(), ['VOICEBOT_CAMPAIGN', 'VOICEBOT_CONTRACT']);
});

