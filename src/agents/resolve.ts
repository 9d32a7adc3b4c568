import type { z } from 'zod';
import { overlayAgent } from './overlay.js';
import { isTimeZone } from './placeholders.js';
import { agentsError, type AgentProblem } from './problems.js';
import { agentSchema, fileSchema } from './schema.js';
import { freezeSettings, systemTimeZone, type AgentSettings, type EnvConfig, type ResolvedAgents } from './settings.js';

/** Where a file's relative paths start, and its name in error messages. */
export interface ResolveOptions {
  baseDir?: string;
  source?: string;
}

/** Agents validated and overlaid, with every problem found; `settings` holds the agents that overlaid. */
export interface CollectedAgents {
  settings: AgentSettings[];
  defaultAgent: string;
  problems: AgentProblem[];
}

/**
 * Validates a parsed agents file and lays each agent over the environment's settings. Throws one
 * `config_invalid` error listing every problem. Greeting files are decoded by `loadAgents`.
 */
export function resolveAgents(file: unknown, env: EnvConfig, options: ResolveOptions = {}): ResolvedAgents {
  const collected = collectAgents(file, env, options);
  const source = options.source ?? 'agents file';
  if (collected.problems.length > 0) throw agentsError(source, collected.problems);
  return buildAgents(collected.settings, collected.defaultAgent, options.source);
}

/** Today's single bot, from the environment alone, as an agent named `default`. */
export function defaultAgentFromEnv(env: EnvConfig): AgentSettings {
  return agentsFromEnv(env).agents.get('default') as AgentSettings;
}

/** The deployment without an agents file: the environment's bot as the only agent, `default`. */
export function agentsFromEnv(env: EnvConfig): ResolvedAgents {
  const collected = collectFromEnv(env);
  if (collected.problems.length > 0) throw agentsError('environment', collected.problems);
  return buildAgents(collected.settings, collected.defaultAgent, undefined);
}

/** What `agentsFromEnv` checks, without throwing. */
export function collectFromEnv(env: EnvConfig): CollectedAgents {
  const { settings, problems } = overlayAgent({ name: 'default' }, env, { baseDir: process.cwd(), timezone: systemTimeZone() });
  return { settings: [settings], defaultAgent: 'default', problems: problems.map((p) => ({ agent: undefined, ...p })) };
}

/** Everything `resolveAgents` checks, without throwing. */
export function collectAgents(file: unknown, env: EnvConfig, options: ResolveOptions = {}): CollectedAgents {
  const problems: AgentProblem[] = [];
  if (file === null || file === undefined) {
    return { settings: [], defaultAgent: '', problems: [{ agent: undefined, path: '', message: 'the file is empty' }] };
  }
  const top = fileSchema.safeParse(file);
  if (!top.success) problems.push(...issues(top.error.issues, undefined));
  const raw = file as { agents?: unknown; timezone?: unknown; default?: unknown };
  const entries = Array.isArray(raw.agents) ? (raw.agents as unknown[]) : [];
  const fileZone = typeof raw.timezone === 'string' ? raw.timezone.trim() : undefined;
  if (fileZone !== undefined && fileZone !== '' && !isTimeZone(fileZone)) {
    problems.push({ agent: undefined, path: 'timezone', message: `"${fileZone}" is not an IANA time zone` });
  }
  const context = {
    baseDir: options.baseDir ?? process.cwd(),
    timezone: fileZone !== undefined && isTimeZone(fileZone) ? fileZone : systemTimeZone(),
  };

  const names: string[] = [];
  const settings: AgentSettings[] = [];
  entries.forEach((entry, i) => {
    const name = (entry as { name?: unknown } | null)?.name;
    const label = typeof name === 'string' && name !== '' ? name : `agents[${i}]`;
    if (typeof name === 'string' && name !== '') names.push(name);
    const parsed = agentSchema.safeParse(entry);
    if (!parsed.success) {
      problems.push(...issues(parsed.error.issues, label));
      return;
    }
    const overlaid = overlayAgent(parsed.data, env, context);
    problems.push(...overlaid.problems.map((p) => ({ agent: label, ...p })));
    settings.push(overlaid.settings);
  });

  const seen = new Set<string>();
  for (const name of names) {
    const key = name.toLowerCase();
    if (seen.has(key)) problems.push({ agent: name, path: 'name', message: 'another agent has the same name' });
    seen.add(key);
  }
  const wanted = typeof raw.default === 'string' ? raw.default.trim() : undefined;
  const defaultAgent = wanted === undefined || wanted === '' ? (names[0] ?? '') : (names.find((n) => n.toLowerCase() === wanted.toLowerCase()) ?? wanted);
  if (wanted !== undefined && wanted !== '' && !seen.has(wanted.toLowerCase())) {
    problems.push({ agent: undefined, path: 'default', message: `no agent is named "${wanted}" (agents: ${names.join(', ')})` });
  }
  problems.push(...portProblems(settings, env));
  return { settings, defaultAgent, problems };
}

/** The frozen result from agents that passed every check. */
export function buildAgents(settings: readonly AgentSettings[], defaultAgent: string, source: string | undefined): ResolvedAgents {
  const agents = new Map(settings.map((s) => [s.name, freezeSettings(s)] as const));
  const ports = new Map<number, string>();
  for (const s of settings) if (s.port !== undefined) ports.set(s.port, s.name);
  const variables = [...new Set(settings.flatMap((s) => s.promptVariables))];
  return Object.freeze({ agents, defaultAgent, variables: Object.freeze(variables), ports, source });
}

function portProblems(settings: readonly AgentSettings[], env: EnvConfig): AgentProblem[] {
  const problems: AgentProblem[] = [];
  const taken = new Map<number, string>();
  if (env.audiosocket.port !== 0) taken.set(env.audiosocket.port, 'AUDIOSOCKET_PORT');
  if (env.ops.httpPort !== 0) taken.set(env.ops.httpPort, 'HTTP_PORT');
  for (const s of settings) {
    if (s.port === undefined) continue;
    const holder = taken.get(s.port);
    if (holder !== undefined) problems.push({ agent: s.name, path: 'port', message: `${s.port} is already taken by ${holder}` });
    else taken.set(s.port, `agent "${s.name}"`);
  }
  return problems;
}

/** Zod issues as problems: one per unknown field, paths written `tts.voice`, `transfers[0].name`. */
function issues(list: readonly z.core.$ZodIssue[], agent: string | undefined): AgentProblem[] {
  return list.flatMap((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ agent, path: path === '' ? key : `${path}.${key}`, message: 'unknown field' }));
    }
    return [{ agent, path, message: issue.message }];
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out;
}
