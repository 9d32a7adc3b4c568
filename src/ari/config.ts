import type { EnvReader } from '../config/env-reader.js';

/** Settings of the Asterisk REST Interface client (ARI_*); no `url` means no call control. */
export interface AriConfig {
  /** Base URL of Asterisk's HTTP server, e.g. http://127.0.0.1:8088 (a trailing /ari is accepted). */
  url: string | undefined;
  user: string;
  password: string;
  /** Deadline of every ARI request, connect to last byte. */
  timeoutMs: number;
  /** How long a call's globals outlive its socket before the server deletes them (the dialplan reads them first). */
  cleanupDelayMs: number;
}

/** Reads ARI_URL, ARI_USER, ARI_PASSWORD, ARI_TIMEOUT_MS and ARI_CLEANUP_DELAY_MS. */
export function readAriConfig(env: EnvReader): AriConfig {
  const url = env.url('ARI_URL', undefined, ['http:', 'https:']);
  const user = env.string('ARI_USER', 'voicebot');
  const password = env.optionalString('ARI_PASSWORD') ?? '';
  const timeoutMs = env.int('ARI_TIMEOUT_MS', 2_000, { min: 50, max: 60_000 });
  const cleanupDelayMs = env.int('ARI_CLEANUP_DELAY_MS', 5_000, { min: 10, max: 300_000 });
  if (url !== undefined) {
    if (URL.canParse(url)) {
      const parsed = new URL(url);
      if (parsed.username !== '' || parsed.password !== '') {
        env.problem('ARI_URL', 'must not contain credentials; use ARI_USER and ARI_PASSWORD');
      }
    }
    if (password === '') env.problem('ARI_PASSWORD', 'required when ARI_URL is set');
  }
  return { url, user, password, timeoutMs, cleanupDelayMs };
}
