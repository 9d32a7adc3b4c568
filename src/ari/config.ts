import type { EnvReader } from '../config/env-reader.js';

export interface AriConfig {
  url: string | undefined;
}

export function readAriConfig(env: EnvReader): AriConfig {
  return { url: env.url('ARI_URL', undefined, ['http:', 'https:']) };
}
