import WebSocket from 'ws';
import { pcmBytes } from '../audio/pcm.js';
import type { VoicebotError } from '../errors.js';
import { streamUnavailable, type Connection, type ConnectionEvents } from './transport.js';

const CONNECT_TIMEOUT_MS = 5_000;

/** How one WebSocket recognition service frames its stream. */
export interface WsProtocol {
  url: string;
  headers?: Record<string, string>;
  /** The service as error messages name it. */
  service: string;
  /** Text sent once the socket is open, before any audio (Vosk's config). */
  greeting?: string;
  /** Text that ends the audio; the service answers with its last results and closes. */
  endOfAudio: string;
  keepAlive?: string;
  /** Reports one JSON message from the service (an object). */
  onMessage(message: Record<string, unknown>): void;
  /** The fault an HTTP answer to the upgrade is; undefined: a retryable one. */
  refused?(status: number): VoicebotError | undefined;
}

/** A recognition stream over WebSocket: PCM in binary messages (silence as zero PCM), results as JSON text. */
export function openWsStream(protocol: WsProtocol, sampleRate: number, events: ConnectionEvents): Connection {
  const ws = new WebSocket(protocol.url, { headers: protocol.headers ?? {}, handshakeTimeout: CONNECT_TIMEOUT_MS, perMessageDeflate: false });
  let ending = false;
  const lost = (cause: Error): void => {
    events.failed(streamUnavailable(`the connection to ${protocol.service} was lost`, cause));
  };
  ws.on('open', () => {
    if (protocol.greeting !== undefined) ws.send(protocol.greeting);
    events.opened();
  });
  ws.on('unexpected-response', (_req, res) => {
    const status = res.statusCode ?? 0;
    res.resume();
    const refusal = protocol.refused?.(status);
    if (refusal !== undefined) events.failed(refusal);
    else lost(new Error(`the upgrade was answered with HTTP ${status}`));
  });
  ws.on('message', (data, isBinary) => {
    let message: unknown;
    try {
      if (isBinary) throw new Error('binary message');
      message = JSON.parse(String(data));
      if (message === null || typeof message !== 'object') throw new Error('not an object');
    } catch (err) {
      lost(new Error(`${protocol.service} sent a message that is not a JSON result`, { cause: err }));
      return;
    }
    events.answered();
    protocol.onMessage(message as Record<string, unknown>);
  });
  ws.on('error', lost);
  ws.on('close', (code) => {
    if (ending) events.ended();
    else lost(new Error(`closed with code ${code}`));
  });
  const keepAlive = protocol.keepAlive;
  return {
    send: (item) => ws.send(item.kind === 'audio' ? item.data : Buffer.alloc(pcmBytes(item.ms, sampleRate))),
    end: () => {
      ending = true;
      ws.send(protocol.endOfAudio);
    },
    ...(keepAlive === undefined ? {} : { keepAlive: () => ws.send(keepAlive) }),
    close: () => {
      ws.removeAllListeners('message');
      ws.on('error', () => undefined);
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else ws.terminate();
    },
  };
}
