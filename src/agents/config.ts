import type { EnvReader } from '../config/env-reader.js';

/** Where the agents come from: a file, or the environment's single bot when unset. */
export interface AgentsConfig {
  /** YAML or JSON file describing the agents; unset means one agent built from the environment. */
  file: string | undefined;
  /** Budget for reading a call's context (agent, caller, variables) through ARI. */
  contextTimeoutMs: number;
  /** The environment as read at start: tools name their secrets as `${env:NAME}`. */
  env: Readonly<Record<string, string | undefined>>;
}

/** Reads AGENTS_FILE and AGENTS_CONTEXT_TIMEOUT_MS. */
export function readAgentsConfig(env: EnvReader, raw: Readonly<Record<string, string | undefined>>): AgentsConfig {
  return {
    env: raw,
    file: env.optionalString('AGENTS_FILE'),
    contextTimeoutMs: env.int('AGENTS_CONTEXT_TIMEOUT_MS', 500, { min: 20, max: 10_000 }),
  };
}
