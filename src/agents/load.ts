import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { loadPromptFile } from '../tts/prompt-file.js';
import type { AgentsConfig } from './config.js';
import { agentsError, type AgentProblem } from './problems.js';
import { buildAgents, collectAgents, collectFromEnv, type CollectedAgents } from './resolve.js';
import type { AgentSettings, EnvConfig, ResolvedAgents } from './settings.js';

/** Greeting files are decoded at start-up for these rates: the two AudioSocket entry forms. */
export const GREETING_RATES = [8000, 16000] as const;

/**
 * The agents of a deployment: AGENTS_FILE (YAML or JSON) laid over the environment, or the
 * environment's single bot. Greeting files are decoded here. Every problem, of any stage, is
 * listed in one `config_invalid` error.
 */
export async function loadAgents(config: EnvConfig & { agents: AgentsConfig }): Promise<ResolvedAgents> {
  const file = config.agents.file;
  if (file === undefined) return finish(collectFromEnv(config), 'environment', undefined);
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw agentsError(path, [{ agent: undefined, path: '', message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    // The message's first line names the position; the rest is an excerpt of the file.
    throw agentsError(path, document.errors.map((e) => ({ agent: undefined, path: '', message: (e.message.split('\n')[0] ?? '').replace(/:$/, '') })));
  }
  const collected = collectAgents(document.toJS() as unknown, config, { baseDir: dirname(path), source: path });
  return finish(collected, path, path);
}

async function finish(collected: CollectedAgents, label: string, source: string | undefined): Promise<ResolvedAgents> {
  const problems: AgentProblem[] = [...collected.problems];
  const decoded = new Map<string, Promise<ReadonlyMap<number, Buffer>>>();
  const settings = await Promise.all(
    collected.settings.map(async (agent): Promise<AgentSettings> => {
      const greetingFile = agent.conversation.greetingFile;
      if (greetingFile === undefined) return agent;
      let audio = decoded.get(greetingFile);
      if (audio === undefined) {
        audio = decodeGreeting(greetingFile);
        decoded.set(greetingFile, audio);
      }
      try {
        return { ...agent, greetingAudio: await audio };
      } catch (err) {
        problems.push({ agent: source === undefined ? undefined : agent.name, path: source === undefined ? 'GREETING_FILE' : 'greetingFile', message: (err as Error).message });
        return agent;
      }
    }),
  );
  if (problems.length > 0) throw agentsError(label, problems);
  return buildAgents(settings, collected.defaultAgent, source);
}

async function decodeGreeting(path: string): Promise<ReadonlyMap<number, Buffer>> {
  const pcm = await Promise.all(GREETING_RATES.map((rate) => loadPromptFile(path, rate)));
  return new Map(GREETING_RATES.map((rate, i) => [rate, pcm[i] as Buffer]));
}
