/** A local Yandex SpeechKit v1 REST synthesizer (`POST /speech/v1/tts:synthesize`, format=lpcm). */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { peerOf, recordConnections, type FakeConnection } from './connections.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { fakeSpeechPcm } from './yandex-tts-server.js';

/** Behaviour knobs; change them on `server.options` between requests. */
export interface FakeTtsHttpOptions {
  /** Delay before the response headers and first body bytes. */
  firstChunkDelayMs: number;
  /** Milliseconds of audio per body write. */
  chunkMs: number;
  /** Delay between later body writes. */
  chunkIntervalMs: number;
  msPerChar: number;
  toneHz: number;
  /** Answer with this HTTP status and a v1 JSON error body. */
  errorStatus: number | undefined;
  /** Accept the request and never answer. */
  hang: boolean;
  /** Write body pieces of odd lengths, to check sample alignment on the client. */
  oddWrites: boolean;
  /** Only this authorization value is accepted, when set. */
  expectAuthorization: string | undefined;
}

/** One request as the fake saw it. */
export interface RecordedTtsHttpRequest {
  /** The client connection it came on (`FakeConnection.peer`). */
  peer: string;
  form: Record<string, string>;
  authorization: string | undefined;
  /** Set when the client went away before the response ended. */
  cancelled: boolean;
}

/** A running fake: its URL, what it received, and its knobs. */
export interface FakeYandexTtsHttp {
  url: string;
  port: number;
  options: FakeTtsHttpOptions;
  /** Synthesis requests (and anything unknown); HEAD probes are counted apart. */
  requests: RecordedTtsHttpRequest[];
  /** Every TCP connection clients opened, in order. */
  connections: FakeConnection[];
  /** The connection of each HEAD request, in order. */
  probes: string[];
  close(): Promise<void>;
}

const DEFAULTS: FakeTtsHttpOptions = {
  firstChunkDelayMs: 0,
  chunkMs: 100,
  chunkIntervalMs: 0,
  msPerChar: 60,
  toneHz: 880,
  errorStatus: undefined,
  hang: false,
  oddWrites: false,
  expectAuthorization: undefined,
};

const V1_RATES = new Set([8000, 16000, 48000]);

/** Starts the fake on 127.0.0.1 at a free port. */
export async function startFakeYandexTtsHttp(options: Partial<FakeTtsHttpOptions> = {}): Promise<FakeYandexTtsHttp> {
  const current: FakeTtsHttpOptions = { ...DEFAULTS, ...options };
  const requests: RecordedTtsHttpRequest[] = [];
  const probes: string[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method === 'HEAD') {
      probes.push(peerOf(req.socket));
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const record: RecordedTtsHttpRequest = { peer: peerOf(req.socket), form, authorization: req.headers.authorization, cancelled: false };
    requests.push(record);
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        record.cancelled = true;
        controller.abort();
      }
    });
    const o = { ...current };
    const fail = (status: number, code: string, message: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error_code: code, error_message: message }));
    };
    if (req.method !== 'POST' || req.url !== '/speech/v1/tts:synthesize') return fail(404, 'NOT_FOUND', 'no such method');
    if (o.hang) {
      await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
      return;
    }
    if (o.firstChunkDelayMs > 0) await sleep(o.firstChunkDelayMs, undefined, { signal: controller.signal });
    if (o.expectAuthorization !== undefined && record.authorization !== o.expectAuthorization) {
      return fail(401, 'UNAUTHORIZED', 'The token is invalid');
    }
    if (o.errorStatus !== undefined) return fail(o.errorStatus, 'FAKE_ERROR', `fake error ${o.errorStatus}`);
    const rate = Number(form.sampleRateHertz ?? 48000);
    if (form.format !== 'lpcm' || !V1_RATES.has(rate)) return fail(400, 'BAD_REQUEST', 'format=lpcm with sampleRateHertz 8000, 16000 or 48000 expected');
    if (form.text === undefined || form.text === '') return fail(400, 'BAD_REQUEST', 'text is empty');
    const pcm = fakeSpeechPcm(form.text, rate, o);
    res.writeHead(200, { 'content-type': 'audio/x-pcm' });
    let step = Math.max(2, Math.round((rate * o.chunkMs) / 1000) * 2);
    if (o.oddWrites) step += 1;
    for (let offset = 0; offset < pcm.length; offset += step) {
      if (controller.signal.aborted) return;
      if (offset > 0 && o.chunkIntervalMs > 0) await sleep(o.chunkIntervalMs, undefined, { signal: controller.signal });
      res.write(pcm.subarray(offset, offset + step));
    }
    res.end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) res.writeHead(500).end();
      else res.destroy();
    });
  });
  const connections = recordConnections(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/speech/v1/tts:synthesize`,
    port,
    options: current,
    requests,
    connections,
    probes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Run standalone (e.g. in a child process for benchmarks): prints the port and URL as JSON on stdout.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const fake = await startFakeYandexTtsHttp(JSON.parse(process.env.FAKE_TTS_HTTP_OPTIONS ?? '{}') as Partial<FakeTtsHttpOptions>);
  process.stdout.write(`${JSON.stringify({ port: fake.port, url: fake.url })}\n`);
}
