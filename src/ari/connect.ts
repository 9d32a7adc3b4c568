import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ariBaseUrl, ariStatusOf, createAriClient, type AriClient } from './client.js';
import type { AriConfig } from './config.js';

/**
 * Builds the ARI client and checks it once. Resolves undefined when ARI_URL is unset; otherwise
 * always resolves the client: an unreachable or misconfigured ARI is one warning, not a crash.
 */
export async function connectAri(config: Pick<AriConfig, 'url' | 'user' | 'password' | 'timeoutMs'>, log: Logger): Promise<AriClient | undefined> {
  if (config.url === undefined) {
    log.info('ARI_URL not set; calls run without call control');
    return undefined;
  }
  const url = ariBaseUrl(config.url);
  const ari = createAriClient({ ...config, url: config.url }, { log });
  try {
    const { version } = await ari.ping();
    log.info({ url, user: config.user, version }, 'ari connected');
  } catch (err) {
    // ari_unavailable has already been reported once by the client itself.
    if (err instanceof VoicebotError && err.code === 'ari_failed') {
      log.warn({ url, user: config.user, status: ariStatusOf(err), reason: err.message }, 'ari refused the startup check; calls go on without call control');
    }
  }
  return ari;
}
