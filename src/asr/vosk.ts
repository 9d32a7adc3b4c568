import type { Asr } from './asr.js';
import type { VoskConfig } from './config.js';
import { audioItemMs } from './pending-audio.js';
import { streamingAsr, type AsrObserver } from './stream-session.js';
import type { Connection, ConnectionEvents } from './transport.js';
import { openWsStream } from './ws-stream.js';

/** What the Vosk recognizer needs besides its own settings. */
export interface VoskAsrDeps {
  observer?: AsrObserver;
}

/** The server compares this string exactly, space included. */
export const VOSK_EOF = '{"eof" : 1}';

/** A Vosk server (vosk-server asr_server.py protocol) over WebSocket. */
export function createVoskAsr(config: VoskConfig, deps: VoskAsrDeps = {}): Asr {
  const service = `Vosk server at ${config.url}`;
  return streamingAsr({
    provider: 'vosk',
    service,
    settings: config,
    supportsRate: (rate) => Number.isInteger(rate) && rate >= 8000 && rate <= 48000,
    open: (sampleRate, events) => openVoskStream(config.url, service, sampleRate, events),
  }, deps.observer);
}

/** Vosk answers every audio message once, in order; a `text` result covers all the audio answered so far. */
function openVoskStream(url: string, service: string, sampleRate: number, events: ConnectionEvents): Connection {
  /** Where each audio message not answered yet ends, on this connection's audio clock. */
  const unanswered: number[] = [];
  let sentMs = 0;
  const stream = openWsStream({
    url,
    service,
    greeting: JSON.stringify({ config: { sample_rate: sampleRate } }),
    endOfAudio: VOSK_EOF,
    onMessage: (message) => {
      const answeredMs = unanswered.shift();
      if (typeof message.partial === 'string') {
        events.partial(message.partial);
      } else if (typeof message.text === 'string') {
        if (answeredMs !== undefined) events.finalized(answeredMs);
        events.final(message.text.trim());
        events.endOfUtterance();
      }
    },
  }, sampleRate, events);
  return {
    ...stream,
    send: (item) => {
      sentMs += audioItemMs(item, sampleRate);
      unanswered.push(sentMs);
      stream.send(item);
    },
  };
}
