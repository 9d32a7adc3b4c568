import { VoicebotError } from '../errors.js';
import type { Asr } from './asr.js';
import type { DeepgramConfig } from './config.js';
import { streamingAsr, type AsrObserver } from './stream-session.js';
import type { ConnectionEvents } from './transport.js';
import { openWsStream } from './ws-stream.js';

/** What the Deepgram recognizer needs besides its own settings. */
export interface DeepgramAsrDeps {
  observer?: AsrObserver;
}

/** Sent when no audio flows, so the server does not close the stream after 10 s. */
export const DEEPGRAM_KEEP_ALIVE = '{"type":"KeepAlive"}';
/** Asks the server to flush its last results and close. */
export const DEEPGRAM_CLOSE_STREAM = '{"type":"CloseStream"}';

/** The `/v1/listen` URL for a call at `sampleRate`: raw s16le mono, interim results, endpointing and VAD events. */
export function deepgramListenUrl(config: DeepgramConfig, sampleRate: number): string {
  const query = new URLSearchParams({
    encoding: 'linear16',
    sample_rate: String(sampleRate),
    channels: '1',
    interim_results: 'true',
    endpointing: String(config.endpointingMs),
    utterance_end_ms: String(config.utteranceEndMs),
    vad_events: 'true',
    model: config.model,
    language: config.language,
    smart_format: 'true',
  });
  return `${config.url.replace(/\/+$/, '')}/v1/listen?${query.toString()}`;
}

/** Deepgram's live streaming recognizer over WebSocket. */
export function createDeepgramAsr(config: DeepgramConfig, deps: DeepgramAsrDeps = {}): Asr {
  const service = `Deepgram at ${config.url}`;
  return streamingAsr({
    provider: 'deepgram',
    service,
    settings: config,
    // The service bills audio: fill a quiet leg's gaps only until the utterance can have ended.
    fillSilenceForMs: config.endpointingMs + config.utteranceEndMs,
    supportsRate: (rate) => Number.isInteger(rate) && rate >= 8000 && rate <= 48000,
    open: (sampleRate, events) => openWsStream({
      url: deepgramListenUrl(config, sampleRate),
      headers: { Authorization: `Token ${config.apiKey}` },
      service,
      endOfAudio: DEEPGRAM_CLOSE_STREAM,
      keepAlive: DEEPGRAM_KEEP_ALIVE,
      refused: (status) => (status === 401 || status === 403
        ? new VoicebotError('asr_auth', `Deepgram refused the API key (HTTP ${status}): check DEEPGRAM_API_KEY`)
        : undefined),
      onMessage: (message) => report(message, events),
    }, sampleRate, events),
  }, deps.observer);
}

interface ResultsMessage {
  type: 'Results';
  is_final?: unknown;
  speech_final?: unknown;
  channel?: { alternatives?: { transcript?: unknown }[] };
}

/** Results and UtteranceEnd as events; SpeechStarted and Metadata carry nothing the call needs. */
function report(message: Record<string, unknown>, events: ConnectionEvents): void {
  if (message.type === 'UtteranceEnd') {
    events.endOfUtterance();
    return;
  }
  if (message.type !== 'Results') return;
  const results = message as unknown as ResultsMessage;
  const transcript = results.channel?.alternatives?.[0]?.transcript;
  const text = typeof transcript === 'string' ? transcript.trim() : '';
  if (results.is_final !== true) {
    events.partial(text);
    return;
  }
  // A final result covers its audio for good (`duration` seconds from `start`): it is never replayed.
  const { start, duration } = message;
  if (typeof start === 'number' && typeof duration === 'number') events.finalized((start + duration) * 1000);
  events.final(text);
  if (results.speech_final === true) events.endOfUtterance();
}
