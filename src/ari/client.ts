import { isAbortError, VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AriConfig } from './config.js';

/** A channel as ARI describes it (only the fields we read are typed). */
export interface AriChannel {
  id: string;
  name: string;
  state: string;
  [field: string]: unknown;
}

/** The few ARI operations the server needs; each has a deadline and accepts an abort signal. */
export interface AriClient {
  /** Asterisk's version; proves that ARI answers and accepts the credentials. */
  ping(signal?: AbortSignal): Promise<{ version: string }>;
  /** The channel, or undefined when Asterisk does not know it (404). */
  getChannel(channelId: string, signal?: AbortSignal): Promise<AriChannel | undefined>;
  /** Whether the channel exists: 200 → true, 404 → false. */
  channelExists(channelId: string, signal?: AbortSignal): Promise<boolean>;
  /** Hangs the channel up; false when it was already gone (404). */
  hangup(channelId: string, signal?: AbortSignal): Promise<boolean>;
  /** A channel variable (with channelId) or a global; undefined when missing or empty. */
  getVariable(name: string, channelId?: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Sets a global dialplan variable; works for channels outside Stasis. */
  setGlobalVariable(name: string, value: string, signal?: AbortSignal): Promise<void>;
  /** Removes a global dialplan variable (ARI without a value deletes it). */
  deleteGlobalVariable(name: string, signal?: AbortSignal): Promise<void>;
}

/** Options of `createAriClient`. */
export interface AriClientOptions {
  /** Receives one warning when ARI becomes unreachable and one notice when it is back. */
  log?: Logger;
}

/** The HTTP status of a failed ARI request, when the error carries one. */
export function ariStatusOf(err: unknown): number | undefined {
  if (!(err instanceof VoicebotError)) return undefined;
  const cause = err.cause as { status?: unknown } | undefined;
  return typeof cause?.status === 'number' ? cause.status : undefined;
}

/** The ARI base URL ending in /ari, whether or not the configured URL already did. */
export function ariBaseUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/ari') ? trimmed : `${trimmed}/ari`;
}

type Reachability = 'unknown' | 'up' | 'down';

interface Answer {
  status: number;
  body: unknown;
}

/** A thin ARI client over fetch with Basic auth and a timeout on every request. */
export function createAriClient(
  config: Pick<AriConfig, 'user' | 'password' | 'timeoutMs'> & { url: string },
  options: AriClientOptions = {},
): AriClient {
  const base = ariBaseUrl(config.url);
  const authorization = `Basic ${Buffer.from(`${config.user}:${config.password}`).toString('base64')}`;
  const log = options.log;
  let reachability: Reachability = 'unknown';

  function markUp(): void {
    if (reachability === 'down') log?.info('ari reachable again');
    reachability = 'up';
  }

  function markDown(err: VoicebotError): void {
    if (reachability !== 'down') {
      log?.warn({ code: err.code, status: ariStatusOf(err), reason: err.message }, 'ari unreachable; calls go on without call control');
    }
    reachability = 'down';
  }

  async function request(method: string, path: string, expected: readonly number[], signal?: AbortSignal): Promise<Answer> {
    const deadline = AbortSignal.timeout(config.timeoutMs);
    const combined = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
    const what = `ARI ${method} ${path.split('?')[0]}`;
    let answer: Answer;
    try {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization, accept: 'application/json' },
        signal: combined,
      });
      const text = await response.text();
      answer = { status: response.status, body: parseBody(text) };
    } catch (err) {
      if (signal?.aborted === true) throw err;
      const timedOut = deadline.aborted || isAbortError(err);
      const failure = new VoicebotError(
        'ari_unavailable',
        timedOut ? `${what} timed out after ${config.timeoutMs} ms` : `${what} failed: ${networkReason(err)}`,
        { cause: err },
      );
      markDown(failure);
      throw failure;
    }
    if (expected.includes(answer.status)) {
      markUp();
      return answer;
    }
    const message = `${what} answered ${answer.status}${describe(answer.body)}`;
    if (answer.status >= 500) {
      const failure = new VoicebotError('ari_unavailable', message, { cause: { status: answer.status } });
      markDown(failure);
      throw failure;
    }
    markUp();
    throw new VoicebotError('ari_failed', message, { cause: { status: answer.status } });
  }

  const channelPath = (channelId: string) => `/channels/${encodeURIComponent(channelId)}`;

  return {
    async ping(signal) {
      const { body } = await request('GET', '/asterisk/info?only=system', [200], signal);
      const version = (body as { system?: { version?: unknown } } | undefined)?.system?.version;
      return { version: typeof version === 'string' ? version : 'unknown' };
    },

    async getChannel(channelId, signal) {
      const { status, body } = await request('GET', channelPath(channelId), [200, 404], signal);
      return status === 200 ? (body as AriChannel) : undefined;
    },

    async channelExists(channelId, signal) {
      const { status } = await request('GET', channelPath(channelId), [200, 404], signal);
      return status === 200;
    },

    async hangup(channelId, signal) {
      const { status } = await request('DELETE', channelPath(channelId), [204, 404], signal);
      return status === 204;
    },

    async getVariable(name, channelId, signal) {
      const query = `variable=${encodeURIComponent(name)}`;
      const path = channelId === undefined ? `/asterisk/variable?${query}` : `${channelPath(channelId)}/variable?${query}`;
      const { status, body } = await request('GET', path, [200, 404], signal);
      if (status === 404) return undefined;
      const value = (body as { value?: unknown } | undefined)?.value;
      return typeof value === 'string' && value !== '' ? value : undefined;
    },

    async setGlobalVariable(name, value, signal) {
      const query = `variable=${encodeURIComponent(name)}&value=${encodeURIComponent(value)}`;
      await request('POST', `/asterisk/variable?${query}`, [200, 204], signal);
    },

    async deleteGlobalVariable(name, signal) {
      await request('POST', `/asterisk/variable?variable=${encodeURIComponent(name)}`, [200, 204], signal);
    },
  };
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function describe(body: unknown): string {
  const message = (body as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string') return `: ${message}`;
  if (typeof body === 'string' && body.length > 0) return `: ${body.slice(0, 200)}`;
  return '';
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
