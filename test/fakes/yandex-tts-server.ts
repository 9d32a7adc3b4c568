/** A local Yandex SpeechKit v3 Synthesizer (gRPC, from our proto) that can be slow, fail or hang. */
import { setImmediate as setImmediateP, setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { listenGrpc, type FakeConnection } from './grpc-listener.js';
import { serviceConstructor } from '../../src/yandex/grpc.js';
import { TTS_PROTO, TTS_SERVICE } from '../../src/tts/yandex-grpc.js';

/** Shape of the audio a fake synthesizer returns. */
export interface FakeSpeechOptions {
  /** Milliseconds of audio per character of text. */
  msPerChar: number;
  /** Frequency of the tone, so that tests can tell two fakes' audio apart. */
  toneHz: number;
}

/** Milliseconds of audio a fake returns for `text`: `msPerChar` for each character (at least one). */
export function expectedSpeechMs(text: string, msPerChar: number): number {
  return Math.max(1, [...text].length) * msPerChar;
}

/** The exact PCM (s16le mono) a fake returns for `text` at `sampleRate`. */
export function fakeSpeechPcm(text: string, sampleRate: number, options: FakeSpeechOptions): Buffer {
  const samples = Math.max(1, Math.round((expectedSpeechMs(text, options.msPerChar) * sampleRate) / 1000));
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * options.toneHz * i) / sampleRate)), i * 2);
  }
  return pcm;
}

/** Behaviour knobs; change them on `server.options` between calls. */
export interface FakeTtsOptions {
  /** Delay before the first audio chunk. */
  firstChunkDelayMs: number;
  /** Milliseconds of audio per response message. */
  chunkMs: number;
  /** Delay between later messages. */
  chunkIntervalMs: number;
  msPerChar: number;
  toneHz: number;
  /** The tone for one text, when it should differ from `toneHz` (undefined: `toneHz`). */
  toneHzOf: ((text: string) => number | undefined) | undefined;
  /** Fail every call with this status before any audio. */
  error: 'UNAVAILABLE' | 'UNAUTHENTICATED' | 'INVALID_ARGUMENT' | 'INTERNAL' | undefined;
  /** Fail after this many audio messages (with `error`, or INTERNAL). */
  failAfterChunks: number | undefined;
  /** Accept the call and never answer. */
  hang: boolean;
  /** Only this authorization value is accepted, when set. */
  expectAuthorization: string | undefined;
  /** Hold each new connection this long before serving it (a handshake over a real network). */
  connectDelayMs?: number;
}

/** One request as the fake saw it. */
export interface RecordedTtsRequest {
  /** The client connection it came on (`FakeConnection.peer`). */
  peer: string;
  text: string;
  encoding: string | undefined;
  sampleRate: number | undefined;
  hints: Record<string, unknown>[];
  model: string;
  unsafeMode: boolean;
  authorization: string | undefined;
  folderId: string | undefined;
  /** Set when the client cancelled the call before it ended. */
  cancelled: boolean;
  /** Milliseconds from the request's arrival to its first audio message (undefined if none). */
  firstChunkMs: number | undefined;
  /** performance.now() when the whole audio had been sent (undefined until then). */
  endedAt: number | undefined;
}

/** A running fake: its `host:port`, what it received, and its knobs. */
export interface FakeYandexTts {
  endpoint: string;
  port: number;
  options: FakeTtsOptions;
  requests: RecordedTtsRequest[];
  /** Every TCP connection clients opened, in order. */
  connections: FakeConnection[];
  /** Calls currently open on the server. */
  active(): number;
  close(): Promise<void>;
}

const DEFAULTS: FakeTtsOptions = {
  firstChunkDelayMs: 0,
  chunkMs: 100,
  chunkIntervalMs: 0,
  msPerChar: 60,
  toneHz: 440,
  toneHzOf: undefined,
  error: undefined,
  failAfterChunks: undefined,
  hang: false,
  expectAuthorization: undefined,
};

interface RawRequest {
  model?: string;
  text?: string;
  hints?: Record<string, unknown>[];
  output_audio_spec?: { raw_audio?: { audio_encoding?: string; sample_rate_hertz?: number } };
  unsafe_mode?: boolean;
}

/** Starts the fake on 127.0.0.1 at a free port. */
export async function startFakeYandexTts(options: Partial<FakeTtsOptions> = {}): Promise<FakeYandexTts> {
  const current: FakeTtsOptions = { ...DEFAULTS, ...options };
  const requests: RecordedTtsRequest[] = [];
  const open = new Set<grpc.ServerWritableStream<RawRequest, unknown>>();
  const server = new grpc.Server();
  const service = serviceConstructor(TTS_PROTO, TTS_SERVICE).service;

  server.addService(service, {
    UtteranceSynthesis: async (call: grpc.ServerWritableStream<RawRequest, unknown>) => {
      const started = performance.now();
      const req = call.request;
      const raw = req.output_audio_spec?.raw_audio;
      const record: RecordedTtsRequest = {
        peer: call.getPeer(),
        text: req.text ?? '',
        encoding: raw?.audio_encoding,
        sampleRate: raw?.sample_rate_hertz,
        hints: (req.hints ?? []).map((hint) => {
          const { Hint, ...rest } = hint as Record<string, unknown> & { Hint?: string };
          return Hint === undefined ? rest : { [Hint]: rest[Hint] };
        }),
        model: req.model ?? '',
        unsafeMode: req.unsafe_mode === true,
        authorization: call.metadata.get('authorization')[0]?.toString(),
        folderId: call.metadata.get('x-folder-id')[0]?.toString(),
        cancelled: false,
        firstChunkMs: undefined,
        endedAt: undefined,
      };
      requests.push(record);
      open.add(call);
      const controller = new AbortController();
      call.on('cancelled', () => {
        record.cancelled = true;
        controller.abort();
      });
      const o = { ...current };
      try {
        if (o.expectAuthorization !== undefined && record.authorization !== o.expectAuthorization) {
          call.emit('error', Object.assign(new Error('unknown api key'), { code: grpc.status.UNAUTHENTICATED, details: 'unknown api key' }));
          return;
        }
        if (o.hang) {
          await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
          return;
        }
        // The voice is made while the first-chunk delay runs, as a service synthesizes during its latency.
        const pcm = raw?.sample_rate_hertz ? fakeSpeechPcm(record.text, raw.sample_rate_hertz, { msPerChar: o.msPerChar, toneHz: o.toneHzOf?.(record.text) ?? o.toneHz }) : Buffer.alloc(0);
        const waitMs = o.firstChunkDelayMs - (performance.now() - started);
        if (o.firstChunkDelayMs > 0 && waitMs > 0) await sleep(waitMs, undefined, { signal: controller.signal });
        if (o.error !== undefined && o.failAfterChunks === undefined) {
          call.emit('error', Object.assign(new Error(`fake ${o.error}`), { code: grpc.status[o.error], details: `fake ${o.error}` }));
          return;
        }
        if (raw?.audio_encoding !== 'LINEAR16_PCM' || raw.sample_rate_hertz === undefined || raw.sample_rate_hertz <= 0) {
          call.emit('error', Object.assign(new Error('raw LINEAR16_PCM expected'), { code: grpc.status.INVALID_ARGUMENT, details: 'raw LINEAR16_PCM expected' }));
          return;
        }
        const rate = raw.sample_rate_hertz;
        const step = Math.max(2, Math.round((rate * o.chunkMs) / 1000) * 2);
        let sent = 0;
        for (let offset = 0; offset < pcm.length; offset += step) {
          if (controller.signal.aborted) return;
          if (o.failAfterChunks !== undefined && sent >= o.failAfterChunks) {
            const code = grpc.status[o.error ?? 'INTERNAL'];
            call.emit('error', Object.assign(new Error('fake failure mid-stream'), { code, details: 'fake failure mid-stream' }));
            return;
          }
          // Back to back, each message still leaves on its own: the first is not held behind the rest.
          if (sent > 0) await (o.chunkIntervalMs > 0 ? sleep(o.chunkIntervalMs, undefined, { signal: controller.signal }) : setImmediateP());
          const data = pcm.subarray(offset, offset + step);
          record.firstChunkMs ??= performance.now() - started;
          call.write({ audio_chunk: { data }, start_ms: Math.round((offset / 2 / rate) * 1000), length_ms: Math.round((data.length / 2 / rate) * 1000) });
          sent++;
        }
        record.endedAt = performance.now();
        call.end();
      } catch {
        // Aborted by a client cancel: nothing more to send.
      } finally {
        open.delete(call);
      }
    },
  });

  const listener = await listenGrpc(server, current.connectDelayMs);
  const port = listener.port;
  return {
    endpoint: `127.0.0.1:${port}`,
    port,
    options: current,
    requests,
    connections: listener.connections,
    active: () => open.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        listener.close();
        resolve();
      }),
  };
}

// Run standalone (e.g. in a child process for benchmarks): prints the port as JSON on stdout.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const fake = await startFakeYandexTts(JSON.parse(process.env.FAKE_TTS_OPTIONS ?? '{}') as Partial<FakeTtsOptions>);
  process.stdout.write(`${JSON.stringify({ port: fake.port })}\n`);
}
