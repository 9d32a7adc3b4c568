/** A local SpeechKit STT v3 Recognizer built from our proto: energy-based "recognition" with scripted text. */
import * as grpc from '@grpc/grpc-js';
import { pathToFileURL } from 'node:url';
import { serviceConstructor } from '../../src/yandex/grpc.js';
import { TONE_SHARE, toneShare } from './tone-share.js';
import { listenGrpc, type FakeConnection } from './grpc-listener.js';
import {
  STT_PROTO, STT_SERVICE,
  type StreamingOptions, type StreamingRequest, type StreamingResponse,
} from '../../src/asr/yandex-stt-messages.js';

/** What the fake knows about an utterance when it picks the text to "recognize". */
export interface UtteranceInfo {
  /** 0-based stream number on this server. */
  stream: number;
  /** 0-based utterance number within the stream. */
  utterance: number;
  /** 0-based utterance number across all streams of this server. */
  serverUtterance: number;
}

/** What the fake knows about an utterance it takes for the echo of the bot's voice. */
export interface EchoUtteranceInfo {
  /** 0-based stream number on this server. */
  stream: number;
  /** 0-based echo utterance number across all streams of this server. */
  serverEcho: number;
}

/** Sound other than the bot's tone for this long, inside an echo, is the caller talking over it, ms. */
const CALLER_OVER_ECHO_MS = 200;

/** Knobs of the fake recognizer; every field is optional. */
export interface FakeYandexSttOptions {
  /** Text of the final for an utterance (default `utterance <serverUtterance>`). */
  finalText?: (info: UtteranceInfo) => string;
  /** Partials show the words, but the final comes back empty: the service decided it was noise. */
  emptyFinal?: (info: UtteranceInfo) => boolean;
  /** RMS of a 20 ms window above which it counts as speech (default 300). */
  rmsThreshold?: number;
  /** Voiced audio needed to start an utterance (default 60 ms). */
  minSpeechMs?: number;
  /** Silence (audio time, silence_chunk durations included) that ends an utterance (default 400 ms). */
  eouSilenceMs?: number;
  /** One more partial word per this much voiced audio (default 200 ms). */
  partialEveryMs?: number;
  /** Delay of every response, wall clock (default 0). */
  latencyMs?: number;
  /** Status WORKING sent when the session options arrive (default true). */
  greet?: boolean;
  /** Keep-alive status WORKING every this many ms of wall clock, as the service does (default 2000; 0 = none). */
  statusEveryMs?: number;
  /** After this much audio, stop answering anything while keeping the stream open; `times` streams (default 1). */
  hang?: { afterMs: number; times?: number };
  /** With normalization requested, also send a final_refinement carrying refine(text). */
  refine?: (text: string) => string;
  /** End streams with an error status after this much audio; `times` streams in all (default 1). */
  drop?: { afterBytes?: number; afterMs?: number; times?: number; code?: grpc.status };
  /** Send status CLOSED and end the stream after this much audio; `times` streams in all (default 1). */
  close?: { afterMs: number; times?: number };
  /** Accept only `authorization: Api-Key <apiKey>`; anything else gets UNAUTHENTICATED. */
  apiKey?: string;
  /** Refuse every stream with this status. */
  refuse?: grpc.status;
  /** End a stream with UNAVAILABLE after this long (wall clock) without any message. */
  idleTimeoutMs?: number;
  /** Keep the audio bytes of every session (for byte-exact replay checks). */
  recordAudio?: boolean;
  /**
   * The bot's words, for an utterance whose voice is the TTS fakes' tone (`echoToneHz`): the echo
   * of the bot is recognized as what the bot says, as a real recognizer does. Caller speech over
   * it (200 ms of audio that is not the tone) turns the utterance into the caller's, with
   * `finalText`. Echo utterances do not count in `UtteranceInfo`. Without it the tone is speech.
   */
  echoText?: (info: EchoUtteranceInfo) => string;
  /** Pitch of the bot's tone (default 440 Hz, the TTS fakes' default). */
  echoToneHz?: number;
  /** Hold each new connection this long before serving it (a handshake over a real network). */
  connectDelayMs?: number;
}

/** What one stream received and produced. */
export interface FakeSttSession {
  /** The client connection it came on (`FakeConnection.peer`). */
  peer: string;
  options: StreamingOptions | undefined;
  authorization: string | undefined;
  folderId: string | undefined;
  bytes: number;
  /** Audio messages (`chunk`) received, and the size of each in bytes. */
  chunks: number;
  chunkBytes: number[];
  /** Audio time received: PCM plus silence_chunk durations. */
  receivedMs: number;
  silenceMs: number;
  /** Audio time covered by the last final. */
  finalizedMs: number;
  /** PCM bytes received up to the last final (PCM only, for replay checks). */
  finalizedBytes: number;
  finals: string[];
  /** The finals that were the bot's words recognized in its echo. */
  echoFinals: string[];
  audio: Buffer[];
  end: 'open' | 'client-end' | 'cancelled' | 'dropped' | 'closed' | 'refused' | 'invalid' | 'idle';
}

/** Counters across all streams. */
export interface FakeSttStats {
  openStreams: number;
  totalStreams: number;
  bytesReceived: number;
}

/** A running fake recognizer. */
export interface FakeYandexStt {
  port: number;
  /** `127.0.0.1:<port>`, for YandexSttConfig.endpoint (with tls: false). */
  endpoint: string;
  stats: FakeSttStats;
  sessions: FakeSttSession[];
  /** Every TCP connection clients opened, in order. */
  connections: FakeConnection[];
  /** Destroys every open connection, as a server restart or a network fault would. */
  dropConnections(): void;
  close(): Promise<void>;
}

type Call = grpc.ServerDuplexStream<StreamingRequest, StreamingResponse>;

/** The fake judges audio in 20 ms windows. */
const WINDOW_MS = 20;

/** Starts the fake on 127.0.0.1, port 0 (insecure). */
export async function startFakeYandexStt(options: FakeYandexSttOptions = {}): Promise<FakeYandexStt> {
  const o = {
    finalText: options.finalText ?? ((u: UtteranceInfo) => `utterance ${u.serverUtterance}`),
    rmsThreshold: options.rmsThreshold ?? 300,
    minSpeechMs: options.minSpeechMs ?? 60,
    eouSilenceMs: options.eouSilenceMs ?? 400,
    partialEveryMs: options.partialEveryMs ?? 200,
    latencyMs: options.latencyMs ?? 0,
    greet: options.greet ?? true,
  };
  const stats: FakeSttStats = { openStreams: 0, totalStreams: 0, bytesReceived: 0 };
  const sessions: FakeSttSession[] = [];
  let dropsLeft = options.drop?.times ?? 1;
  let closesLeft = options.close?.times ?? 1;
  let hangsLeft = options.hang?.times ?? 1;
  const statusEveryMs = options.statusEveryMs ?? 2_000;
  let serverUtterance = 0;
  let serverEcho = 0;
  const echoToneHz = options.echoToneHz ?? 440;

  function handle(call: Call): void {
    const streamNo = stats.totalStreams++;
    stats.openStreams += 1;
    const s: FakeSttSession = {
      peer: call.getPeer(),
      options: undefined,
      authorization: call.metadata.get('authorization')[0]?.toString(),
      folderId: call.metadata.get('x-folder-id')[0]?.toString(),
      bytes: 0, chunks: 0, chunkBytes: [], receivedMs: 0, silenceMs: 0, finalizedMs: 0, finalizedBytes: 0,
      finals: [], echoFinals: [], audio: [], end: 'open',
    };
    sessions.push(s);
    let done = false;
    let rate = 0;
    let inSpeech = false;
    let speechRun = 0;
    let voicedMs = 0;
    let silenceRun = 0;
    let words: string[] = [];
    let noise = false;
    // Echo: the utterance so far is the bot's tone; toneRun is the tone's share of the voice before it starts.
    let echo = false;
    let toneRun = 0;
    let callerRun = 0;
    let partialWords = 0;
    let utterance = 0;
    let finalIndex = 0;
    let idle: NodeJS.Timeout | undefined;
    let keepAlive: NodeJS.Timeout | undefined;
    let hung = false;

    const settle = (): void => {
      if (!done) {
        done = true;
        stats.openStreams -= 1;
        clearTimeout(idle);
        clearInterval(keepAlive);
      }
    };
    call.on('cancelled', () => {
      if (s.end === 'open') s.end = 'cancelled';
      settle();
    });
    call.on('finish', settle);
    call.on('close', settle);
    call.on('error', () => undefined);

    const later = (fn: () => void): void => {
      if (o.latencyMs > 0) setTimeout(() => !done && fn(), o.latencyMs);
      else fn();
    };
    const send = (res: Partial<StreamingResponse> & Record<string, unknown>): void => later(() => {
      if (!done && !hung && !call.writableEnded) call.write(res as StreamingResponse);
    });
    const fail = (code: grpc.status, details: string, end: FakeSttSession['end']): void => {
      if (done || s.end !== 'open') return;
      s.end = end;
      call.emit('error', { code, details, metadata: new grpc.Metadata() });
    };
    const cursors = (): Record<string, number> => ({
      received_data_ms: Math.round(s.receivedMs), final_time_ms: Math.round(s.finalizedMs), final_index: finalIndex,
      partial_time_ms: Math.round(s.receivedMs), eou_time_ms: 0, reset_time_ms: 0,
    });
    const armIdle = (): void => {
      if (options.idleTimeoutMs === undefined) return;
      clearTimeout(idle);
      idle = setTimeout(() => fail(grpc.status.UNAVAILABLE, 'no data', 'idle'), options.idleTimeoutMs);
    };

    const finishUtterance = (atEou = true): void => {
      inSpeech = false;
      const text = noise ? '' : words.join(' ');
      s.finalizedMs = s.receivedMs;
      // What the end of input finalizes is not a replay boundary: the audio is over anyway.
      if (atEou) s.finalizedBytes = s.bytes;
      s.finals.push(text);
      if (echo) s.echoFinals.push(text);
      const index = finalIndex;
      send({ audio_cursors: cursors() as never, final: { alternatives: [{ text }] } });
      finalIndex += 1;
      const normalize = s.options?.recognition_model?.text_normalization?.text_normalization === 'TEXT_NORMALIZATION_ENABLED';
      if (options.refine !== undefined && normalize) {
        send({ audio_cursors: cursors() as never, final_refinement: { final_index: index, normalized_text: { alternatives: [{ text: options.refine(text) }] } } });
      }
      send({ audio_cursors: cursors() as never, eou_update: { time_ms: Math.round(s.receivedMs) } });
    };

    const callerWords = (): void => {
      const info = { stream: streamNo, utterance: utterance++, serverUtterance: serverUtterance++ };
      words = o.finalText(info).split(' ');
      noise = options.emptyFinal?.(info) ?? false;
      echo = false;
      partialWords = 0;
    };

    const onWindow = (ms: number, voiced: boolean, tone: boolean): void => {
      s.receivedMs += ms;
      if (voiced) {
        silenceRun = 0;
        if (!inSpeech) {
          speechRun += ms;
          if (tone) toneRun += ms;
          if (speechRun < o.minSpeechMs) return;
          inSpeech = true;
          voicedMs = speechRun;
          callerRun = 0;
          // The window where the echo starts is part silence, so not all tone: one may miss.
          if (options.echoText !== undefined && toneRun >= speechRun - WINDOW_MS) {
            echo = true;
            words = options.echoText({ stream: streamNo, serverEcho: serverEcho++ }).split(' ');
            noise = false;
            partialWords = 0;
          } else {
            callerWords();
          }
        } else if (echo) {
          // A few windows of the echo are not all tone (where the bot's audio starts or pauses):
          // only a longer run of other sound is the caller talking over it.
          callerRun = tone ? 0 : callerRun + ms;
          if (callerRun >= Math.max(o.minSpeechMs, CALLER_OVER_ECHO_MS)) {
            callerWords();
            voicedMs = callerRun;
          } else voicedMs += ms;
        } else {
          voicedMs += ms;
        }
        const due = Math.min(words.length, Math.floor(voicedMs / o.partialEveryMs) + 1);
        if (due > partialWords) {
          partialWords = due;
          send({ audio_cursors: cursors() as never, partial: { alternatives: [{ text: words.slice(0, due).join(' ') }] } });
        }
        return;
      }
      speechRun = 0;
      toneRun = 0;
      callerRun = 0;
      if (!inSpeech) return;
      silenceRun += ms;
      if (silenceRun >= o.eouSilenceMs) finishUtterance();
    };

    const afterAudio = (): void => {
      if (options.hang !== undefined && !hung && hangsLeft > 0 && s.receivedMs >= options.hang.afterMs) {
        hangsLeft -= 1;
        hung = true;
      }
      const drop = options.drop;
      if (drop !== undefined && dropsLeft > 0 &&
          ((drop.afterBytes !== undefined && s.bytes >= drop.afterBytes) || (drop.afterMs !== undefined && s.receivedMs >= drop.afterMs))) {
        dropsLeft -= 1;
        fail(drop.code ?? grpc.status.UNAVAILABLE, 'connection dropped', 'dropped');
        return;
      }
      const close = options.close;
      if (close !== undefined && closesLeft > 0 && s.receivedMs >= close.afterMs) {
        closesLeft -= 1;
        s.end = 'closed';
        send({ audio_cursors: cursors() as never, status_code: { code_type: 'CLOSED', message: 'session closed' } });
        later(() => !done && call.end());
      }
    };

    if (options.refuse !== undefined) return fail(options.refuse, 'refused', 'refused');
    if (options.apiKey !== undefined && s.authorization !== `Api-Key ${options.apiKey}`) {
      return fail(grpc.status.UNAUTHENTICATED, 'bad credentials', 'refused');
    }
    armIdle();

    call.on('data', (req: StreamingRequest & { Event?: string }) => {
      if (done || s.end !== 'open') return;
      armIdle();
      if (s.options === undefined) {
        if (!('session_options' in req) || req.Event !== 'session_options') {
          return fail(grpc.status.INVALID_ARGUMENT, 'the first message must be session_options', 'invalid');
        }
        const raw = req.session_options.recognition_model?.audio_format?.raw_audio;
        if (raw?.audio_encoding !== 'LINEAR16_PCM' || ![8000, 16000, 48000].includes(Number(raw.sample_rate_hertz)) || Number(raw.audio_channel_count) !== 1) {
          return fail(grpc.status.INVALID_ARGUMENT, 'unsupported audio format', 'invalid');
        }
        s.options = req.session_options;
        rate = Number(raw.sample_rate_hertz);
        const working = (): void => send({ audio_cursors: cursors() as never, status_code: { code_type: 'WORKING', message: '' } });
        if (o.greet) working();
        if (statusEveryMs > 0) keepAlive = setInterval(working, statusEveryMs);
        return;
      }
      if (req.Event === 'chunk' && 'chunk' in req) {
        const data = req.chunk.data;
        s.bytes += data.length;
        s.chunks += 1;
        s.chunkBytes.push(data.length);
        stats.bytesReceived += data.length;
        if (options.recordAudio) s.audio.push(Buffer.from(data));
        const window = (rate / 50) * 2;
        for (let at = 0; at < data.length; at += window) {
          const end = Math.min(data.length, at + window);
          let sum = 0;
          for (let i = at; i + 1 < end; i += 2) {
            const v = data.readInt16LE(i);
            sum += v * v;
          }
          const samples = (end - at) >> 1;
          const voiced = samples > 0 && Math.sqrt(sum / samples) >= o.rmsThreshold;
          const tone = voiced && options.echoText !== undefined && toneShare(data, at, end, rate, echoToneHz, sum) >= TONE_SHARE;
          onWindow((samples / rate) * 1000, voiced, tone);
        }
        afterAudio();
      } else if (req.Event === 'silence_chunk' && 'silence_chunk' in req) {
        const ms = Number(req.silence_chunk.duration_ms);
        s.silenceMs += ms;
        onWindow(ms, false, false);
        afterAudio();
      } else if (req.Event === 'session_options') {
        fail(grpc.status.INVALID_ARGUMENT, 'session_options sent twice', 'invalid');
      }
    });
    call.on('end', () => {
      // A client that cancels also ends its request side first; the cancellation follows shortly.
      setTimeout(() => {
        if (done || call.cancelled || s.end !== 'open') return;
        s.end = 'client-end';
        if (inSpeech) finishUtterance(false);
        later(() => !done && call.end());
      }, 20);
    });
  }

  const server = new grpc.Server();
  server.addService(serviceConstructor(STT_PROTO, STT_SERVICE).service, { RecognizeStreaming: handle });
  const listener = await listenGrpc(server, options.connectDelayMs);
  const port = listener.port;
  return {
    port,
    endpoint: `127.0.0.1:${port}`,
    stats,
    sessions,
    connections: listener.connections,
    dropConnections: () => listener.dropConnections(),
    close: () => new Promise<void>((resolve) => {
      server.forceShutdown();
      listener.close();
      resolve();
    }),
  };
}

// Run standalone (e.g. in a child process for benchmarks): prints the port as JSON on stdout.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = JSON.parse(process.env.FAKE_STT_OPTIONS ?? '{}') as FakeYandexSttOptions;
  const fake = await startFakeYandexStt(options);
  process.stdout.write(`${JSON.stringify({ port: fake.port })}\n`);
  process.on('message', () => process.stdout.write(`${JSON.stringify({ stats: fake.stats })}\n`));
  process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
}
