/** A local Deepgram-live-protocol WebSocket server: energy-based "recognition" with scripted text. */
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

/** Knobs of the fake Deepgram server; every field is optional. */
export interface FakeDeepgramOptions {
  /** The key expected in `Authorization: Token <key>` (default `test-key`). */
  apiKey?: string;
  /** Answer every upgrade with 401, whatever the key. */
  refuseAuth?: boolean;
  /** Text of the final result of an utterance (default `utterance <serverUtterance>`); empty = noise: interim `mm`, then an empty final. */
  finalText?: (info: { connection: number; utterance: number; serverUtterance: number }) => string;
  /** RMS of a 20 ms window above which it counts as speech (default 300). */
  rmsThreshold?: number;
  /** Voiced audio needed to start an utterance (default 60 ms). */
  minSpeechMs?: number;
  /** Silence after speech that ends the utterance with a final (default: the query's `endpointing`). */
  eouSilenceMs?: number;
  /** An interim result, one word longer, per this much voiced audio (default 200 ms). */
  partialEveryMs?: number;
  /** Mark the final `speech_final` (default true); false leaves the end to `UtteranceEnd`. */
  speechFinal?: boolean;
  /** While nobody speaks, an empty final result per this much audio (default 1000 ms). */
  idleResultEveryMs?: number;
  /** Delay of every message, wall clock (default 0). */
  latencyMs?: number;
  /** Cut the connection (no close frame) after this much audio received; `times` connections in all (default 1). */
  drop?: { afterMs: number; times?: number };
  /** Stop sending anything (connection stays open) after this much audio received; `times` connections (default 1). */
  hang?: { afterMs: number; times?: number };
}

/** What one connection received. */
export interface FakeDeepgramConnection {
  /** The upgrade's query parameters. */
  query: Record<string, string>;
  authorization: string | undefined;
  /** Every text message, verbatim (KeepAlive, CloseStream). */
  texts: string[];
  bytes: number;
  /** Every message sent, parsed. */
  sent: Record<string, unknown>[];
  end: 'open' | 'close-stream' | 'client-close' | 'dropped';
}

/** A running fake Deepgram server. */
export interface FakeDeepgram {
  port: number;
  /** `ws://127.0.0.1:<port>`, for DeepgramConfig.url. */
  url: string;
  apiKey: string;
  stats: { openConnections: number; totalConnections: number; refusedUpgrades: number; bytesReceived: number };
  connections: FakeDeepgramConnection[];
  close(): Promise<void>;
}

function problemWithQuery(query: URLSearchParams): string | undefined {
  if (query.get('encoding') !== 'linear16') return 'encoding must be linear16';
  const rate = Number(query.get('sample_rate'));
  if (!Number.isInteger(rate) || rate < 8000 || rate > 48000) return 'bad sample_rate';
  if ((query.get('channels') ?? '1') !== '1') return 'channels must be 1';
  return undefined;
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeDeepgram(options: FakeDeepgramOptions = {}): Promise<FakeDeepgram> {
  const apiKey = options.apiKey ?? 'test-key';
  const finalText = options.finalText ?? ((u) => `utterance ${u.serverUtterance}`);
  const threshold = options.rmsThreshold ?? 300;
  const minSpeechMs = options.minSpeechMs ?? 60;
  const partialEveryMs = options.partialEveryMs ?? 200;
  const idleResultEveryMs = options.idleResultEveryMs ?? 1_000;
  const latencyMs = options.latencyMs ?? 0;
  const stats = { openConnections: 0, totalConnections: 0, refusedUpgrades: 0, bytesReceived: 0 };
  const connections: FakeDeepgramConnection[] = [];
  let dropsLeft = options.drop?.times ?? 1;
  let hangsLeft = options.hang?.times ?? 1;
  let serverUtterance = 0;

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, status?: number, message?: string) => void) => {
      const url = new URL(info.req.url ?? '/', 'http://fake');
      const refuse = (status: number, message: string): void => {
        stats.refusedUpgrades += 1;
        done(false, status, message);
      };
      if (url.pathname !== '/v1/listen') return refuse(404, 'Not Found');
      if (options.refuseAuth === true || info.req.headers.authorization !== `Token ${apiKey}`) return refuse(401, 'Unauthorized');
      const problem = problemWithQuery(url.searchParams);
      if (problem !== undefined) return refuse(400, problem);
      done(true);
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const number = stats.totalConnections++;
    stats.openConnections += 1;
    const params = new URL(req.url ?? '/', 'http://fake').searchParams;
    const c: FakeDeepgramConnection = {
      query: Object.fromEntries(params),
      authorization: req.headers.authorization,
      texts: [],
      bytes: 0,
      sent: [],
      end: 'open',
    };
    connections.push(c);
    const rate = Number(params.get('sample_rate'));
    const eouSilenceMs = options.eouSilenceMs ?? Number(params.get('endpointing') ?? 300);
    const utteranceEndMs = Number(params.get('utterance_end_ms') ?? 1000);
    /** Audio received, in ms: the stream's clock. */
    let clockMs = 0;
    /** Where the current segment (an utterance, or idle audio) starts. */
    let segmentStartMs = 0;
    let inSpeech = false;
    let speechRun = 0;
    let voicedMs = 0;
    let silenceRun = 0;
    let interims = 0;
    let words: string[] = [];
    let utterance = 0;
    /** ms of silence since the last word of a finalized utterance still waiting for its UtteranceEnd. */
    let sinceLastWord: number | undefined;
    let hung = false;

    ws.on('close', () => {
      if (c.end === 'open') c.end = 'client-close';
      stats.openConnections -= 1;
    });
    ws.on('error', () => undefined);
    const send = (message: Record<string, unknown>, thenClose = false): void => {
      const go = (): void => {
        if (ws.readyState !== ws.OPEN || hung) return;
        c.sent.push(message);
        ws.send(JSON.stringify(message));
        if (thenClose) ws.close(1000);
      };
      if (latencyMs > 0) setTimeout(go, latencyMs);
      else go();
    };
    const results = (transcript: string, isFinal: boolean, speechFinal: boolean): Record<string, unknown> => ({
      type: 'Results',
      channel_index: [0, 1],
      duration: (clockMs - segmentStartMs) / 1000,
      start: segmentStartMs / 1000,
      is_final: isFinal,
      speech_final: speechFinal,
      channel: { alternatives: [{ transcript, confidence: transcript === '' ? 0 : 0.98, words: [] }] },
    });
    const finalize = (speechFinal: boolean): Record<string, unknown> => {
      const message = results(words.join(' '), true, speechFinal);
      inSpeech = false;
      segmentStartMs = clockMs;
      sinceLastWord = 0;
      return message;
    };

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const text = data.toString();
        c.texts.push(text);
        let type: unknown;
        try {
          type = (JSON.parse(text) as { type?: unknown }).type;
        } catch {
          type = undefined;
        }
        if (type === 'CloseStream') {
          c.end = 'close-stream';
          if (inSpeech) send(finalize(false));
          send({ type: 'Metadata', request_id: `fake-${number}`, duration: clockMs / 1000, channels: 1 }, true);
        }
        return;
      }
      if (c.end === 'close-stream') return;
      c.bytes += data.length;
      stats.bytesReceived += data.length;
      const window = (rate / 50) * 2;
      for (let at = 0; at < data.length; at += window) {
        const end = Math.min(data.length, at + window);
        let sum = 0;
        for (let i = at; i + 1 < end; i += 2) {
          const v = data.readInt16LE(i);
          sum += v * v;
        }
        const samples = (end - at) >> 1;
        if (samples === 0) continue;
        const ms = (samples / rate) * 1000;
        clockMs += ms;
        if (Math.sqrt(sum / samples) >= threshold) {
          silenceRun = 0;
          sinceLastWord = undefined;
          if (!inSpeech) {
            speechRun += ms;
            if (speechRun < minSpeechMs) continue;
            inSpeech = true;
            voicedMs = speechRun;
            interims = 0;
            send({ type: 'SpeechStarted', channel: [0], timestamp: (clockMs - speechRun) / 1000 });
            words = finalText({ connection: number, utterance: utterance++, serverUtterance: serverUtterance++ }).split(' ').filter((w) => w !== '');
          } else {
            voicedMs += ms;
          }
          // Like the service, an interim result per stretch of speech, changed or not.
          const due = Math.floor(voicedMs / partialEveryMs) + 1;
          if (due > interims) {
            interims = due;
            send(results(words.length === 0 ? 'mm' : words.slice(0, Math.min(words.length, due)).join(' '), false, false));
          }
        } else {
          speechRun = 0;
          if (inSpeech) {
            silenceRun += ms;
            if (silenceRun >= eouSilenceMs) send(finalize(options.speechFinal ?? true));
          } else {
            if (sinceLastWord !== undefined) {
              sinceLastWord += ms;
              if (sinceLastWord >= utteranceEndMs) {
                sinceLastWord = undefined;
                send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: segmentStartMs / 1000 });
              }
            }
            if (clockMs - segmentStartMs >= idleResultEveryMs) {
              send(results('', true, false));
              segmentStartMs = clockMs;
            }
          }
        }
      }
      if (options.hang !== undefined && !hung && hangsLeft > 0 && clockMs >= options.hang.afterMs) {
        hangsLeft -= 1;
        hung = true;
      }
      if (options.drop !== undefined && dropsLeft > 0 && clockMs >= options.drop.afterMs) {
        dropsLeft -= 1;
        c.end = 'dropped';
        ws.terminate();
      }
    });
  });

  const port = (wss.address() as { port: number }).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    apiKey,
    stats,
    connections,
    close: () => new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    }),
  };
}
