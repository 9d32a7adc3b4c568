/** Yandex SpeechKit v1 REST synthesis (`tts:synthesize`, format=lpcm): the fallback when gRPC fails. */
import { createResampler } from '../audio/resample.js';
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import { createWarmHttp, PROBE_TIMEOUT_MS } from '../net/warm-http.js';
import type { YandexConfig } from '../yandex/config.js';
import type { YandexTtsConfig } from './config.js';
import type { Tts, TtsRequest } from './tts.js';

/** The only rates the v1 method produces as raw PCM. */
const V1_RATES = [8000, 16000, 48000] as const;
const V1_EMOTIONS = new Set(['neutral', 'good', 'evil']);

/** What the HTTP synthesizer needs besides its settings. */
export interface YandexHttpTtsDeps {
  log: Logger;
  observer?: Observer;
}

/** The v1 rate to request for a call rate: the same rate when offered, else the next one up. */
export function v1RateFor(sampleRate: number): number {
  return V1_RATES.find((rate) => rate === sampleRate) ?? V1_RATES.find((rate) => rate > sampleRate) ?? 48000;
}

/** A Tts backed by the Yandex v1 REST method; the response body is streamed out as PCM. */
export function createYandexHttpTts(
  config: YandexTtsConfig,
  yandex: Pick<YandexConfig, 'apiKey' | 'iamToken' | 'folderId'>,
  deps: YandexHttpTtsDeps,
): Tts {
  const log = deps.log.child({ provider: 'yandex-tts-http' });
  const observer = deps.observer ?? noopObserver;
  const pool = createWarmHttp({ provider: 'yandex-tts-http', intervalMs: config.httpKeepWarmMs, log });

  const fail = (err: VoicebotError): VoicebotError => {
    observer.providerError('yandex-tts-http', err.code);
    log.debug({ code: err.code }, 'synthesis failed');
    return err;
  };

  return {
    keepWarm() {
      if (config.httpKeepWarmMs === 0) return;
      // A HEAD synthesizes nothing and costs nothing; any answer (405 included) means connected.
      pool.keepWarm(async () => {
        const response = await pool.fetch(config.httpUrl, { method: 'HEAD', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
        await response.body?.cancel();
      });
    },
    async *synthesize(text: string, request: TtsRequest): AsyncIterable<Buffer> {
      const { sampleRate, signal } = request;
      if (signal.aborted || text.trim() === '') return;
      const rate = v1RateFor(sampleRate);
      const form = new URLSearchParams({
        text,
        lang: config.lang,
        voice: config.voice,
        speed: String(config.speed),
        format: 'lpcm',
        sampleRateHertz: String(rate),
      });
      // v1 knows only these styles (as `emotion`); other v3 roles are left to the voice's default.
      if (config.role !== undefined && V1_EMOTIONS.has(config.role)) form.set('emotion', config.role);
      if (yandex.apiKey === undefined && yandex.folderId !== undefined) form.set('folderId', yandex.folderId);
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (yandex.apiKey !== undefined) headers.authorization = `Api-Key ${yandex.apiKey}`;
      else if (yandex.iamToken !== undefined) headers.authorization = `Bearer ${yandex.iamToken}`;

      const timeout = AbortSignal.timeout(config.timeoutMs);
      const combined = AbortSignal.any([signal, timeout]);
      let response: Response;
      try {
        response = await pool.fetch(config.httpUrl, { method: 'POST', headers, body: form, signal: combined });
      } catch (err) {
        if (signal.aborted) return;
        if (timeout.aborted) throw fail(new VoicebotError('tts_unavailable', `Yandex TTS HTTP timed out after ${config.timeoutMs} ms`, { cause: err }));
        throw fail(new VoicebotError('tts_unavailable', `Yandex TTS HTTP request failed: ${(err as Error).message}`, { cause: err }));
      }
      if (!response.ok) {
        const message = await errorMessage(response);
        const code = response.status === 401 || response.status === 403 ? 'tts_auth' : response.status >= 500 || response.status === 429 ? 'tts_unavailable' : 'tts_failed';
        throw fail(new VoicebotError(code, `Yandex TTS HTTP ${response.status}: ${message}`));
      }
      if (response.body === null) return;
      const resampler = createResampler(rate, sampleRate);
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          // Re-checked after the await: a late body chunk must not play after a barge-in.
          if (signal.aborted) return;
          if (done) break;
          // The resampler keeps an odd trailing byte for the next chunk, so samples stay aligned.
          const pcm = resampler.process(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
          if (pcm.length > 0) yield pcm;
        }
        const tail = resampler.flush();
        if (tail.length > 0) yield tail;
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof VoicebotError) throw err;
        throw fail(new VoicebotError('tts_unavailable', `Yandex TTS HTTP body failed: ${timeout.aborted ? 'timed out' : (err as Error).message}`, { cause: err }));
      } finally {
        reader.cancel().catch(() => {});
      }
    },
  };
}

/** The error text of a v1 response: `error_message` of its JSON body, else the status text. */
async function errorMessage(response: Response): Promise<string> {
  let raw = '';
  try {
    raw = await response.text();
    const body = JSON.parse(raw) as { error_message?: unknown; message?: unknown; error_code?: unknown };
    const message = typeof body.error_message === 'string' ? body.error_message : typeof body.message === 'string' ? body.message : undefined;
    if (message !== undefined) return typeof body.error_code === 'string' ? `${body.error_code}: ${message}` : message;
  } catch {
    // Not JSON: fall through to a short excerpt.
  }
  const excerpt = raw.slice(0, 200).trim();
  return excerpt === '' ? response.statusText : excerpt;
}
