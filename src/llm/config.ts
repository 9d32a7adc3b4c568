import type { EnvReader } from '../config/env-reader.js';

export interface LlmConfig {
  baseUrl: string | undefined;
}

export function readLlmConfig(env: EnvReader): LlmConfig {
  return { baseUrl: env.url('OPENAI_BASE_URL', undefined, ['http:', 'https:']) };
}
