/** A local Vosk-protocol WebSocket server: energy-based "recognition" with scripted text. */
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';

/** Knobs of the fake Vosk server; every field is optional. */
export interface FakeVoskOptions {
  /** Text of the result for an utterance (default `utterance <serverUtterance>`). */
  finalText?: (info: { connection: number; utterance: number; serverUtterance: number }) => string;
  /** RMS of a 20 ms window above which it counts as speech (default 300). */
  rmsThreshold?: number;
  /** Voiced audio needed to start an utterance (default 60 ms). */
  minSpeechMs?: number;
  /** Silence that ends an utterance (default 400 ms). */
  eouSilenceMs?: number;
  /** One more partial word per this much voiced audio (default 200 ms). */
  partialEveryMs?: number;
  /** Delay of every answer, wall clock (default 0). */
  latencyMs?: number;
  /** Cut the connection (no close frame) after this many audio bytes; `times` connections in all (default 1). */
  drop?: { afterBytes: number; times?: number };
  /** Answer the first audio message of the first `times` connections with text that is not JSON. */
  garbage?: { times: number };
  /** Stop answering (connection stays open) after this many audio bytes; `times` connections (default 1). */
  hang?: { afterBytes: number; times?: number };
  /** Refuse every WebSocket upgrade (the server looks unreachable). */
  refuse?: boolean;
  /** Cut the connection (no close frame) instead of answering the eof. */
  dropOnEof?: boolean;
  /** Keep the audio bytes of every connection (for byte-exact replay checks). */
  recordAudio?: boolean;
}

/** What one connection received. */
export interface FakeVoskConnection {
  sampleRate: number | undefined;
  /** Every text message, verbatim (config and eof). */
  texts: string[];
  bytes: number;
  /** Audio bytes received up to the last result. */
  resultBytes: number;
  results: string[];
  /** The audio messages received, with `recordAudio`. */
  audio: Buffer[];
  end: 'open' | 'eof' | 'client-close' | 'dropped';
}

/** A running fake Vosk server. */
export interface FakeVosk {
  port: number;
  /** `ws://127.0.0.1:<port>`, for VoskConfig.url. */
  url: string;
  stats: { openConnections: number; totalConnections: number; bytesReceived: number };
  connections: FakeVoskConnection[];
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeVosk(options: FakeVoskOptions = {}): Promise<FakeVosk> {
  const finalText = options.finalText ?? ((u) => `utterance ${u.serverUtterance}`);
  const threshold = options.rmsThreshold ?? 300;
  const minSpeechMs = options.minSpeechMs ?? 60;
  const eouSilenceMs = options.eouSilenceMs ?? 400;
  const partialEveryMs = options.partialEveryMs ?? 200;
  const latencyMs = options.latencyMs ?? 0;
  const stats = { openConnections: 0, totalConnections: 0, bytesReceived: 0 };
  const connections: FakeVoskConnection[] = [];
  let dropsLeft = options.drop?.times ?? 1;
  let garbageLeft = options.garbage?.times ?? 0;
  let hangsLeft = options.hang?.times ?? 1;
  let serverUtterance = 0;

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    verifyClient: () => options.refuse !== true,
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));

  wss.on('connection', (ws: WebSocket) => {
    const number = stats.totalConnections++;
    stats.openConnections += 1;
    const c: FakeVoskConnection = { sampleRate: undefined, texts: [], bytes: 0, resultBytes: 0, results: [], audio: [], end: 'open' };
    connections.push(c);
    let rate = 16000;
    let inSpeech = false;
    let speechRun = 0;
    let voicedMs = 0;
    let silenceRun = 0;
    let words: string[] = [];
    let utterance = 0;
    let hung = false;
    let garbage = garbageLeft > 0;
    if (garbage) garbageLeft -= 1;

    ws.on('close', () => {
      if (c.end === 'open') c.end = 'client-close';
      stats.openConnections -= 1;
    });
    ws.on('error', () => undefined);
    const answer = (text: string, thenClose = false): void => {
      const send = (): void => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(text);
        if (thenClose) ws.close(1000);
      };
      if (latencyMs > 0) setTimeout(send, latencyMs);
      else send();
    };
    const result = (): string => {
      inSpeech = false;
      const text = words.join(' ');
      c.results.push(text);
      c.resultBytes = c.bytes;
      return JSON.stringify({ text, result: [] });
    };

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const text = data.toString();
        c.texts.push(text);
        if (text === '{"eof" : 1}') {
          c.end = 'eof';
          if (options.dropOnEof === true) {
            ws.terminate();
            return;
          }
          answer(inSpeech ? result() : JSON.stringify({ text: '' }), true);
          return;
        }
        try {
          const parsed = JSON.parse(text) as { config?: { sample_rate?: number } };
          if (parsed.config?.sample_rate !== undefined) {
            rate = parsed.config.sample_rate;
            c.sampleRate = rate;
          }
        } catch {
          // The real server treats other text as audio; the fake just records it.
        }
        return;
      }
      c.bytes += data.length;
      stats.bytesReceived += data.length;
      if (options.recordAudio === true) c.audio.push(Buffer.from(data));
      if (options.drop !== undefined && dropsLeft > 0 && c.bytes >= options.drop.afterBytes) {
        dropsLeft -= 1;
        c.end = 'dropped';
        ws.terminate();
        return;
      }
      if (options.hang !== undefined && !hung && hangsLeft > 0 && c.bytes >= options.hang.afterBytes) {
        hangsLeft -= 1;
        hung = true;
      }
      if (hung) return;
      if (garbage) {
        garbage = false;
        answer('<html>502 Bad Gateway</html>');
        return;
      }
      let reply: string | undefined;
      const window = (rate / 50) * 2;
      for (let at = 0; at < data.length; at += window) {
        const end = Math.min(data.length, at + window);
        let sum = 0;
        for (let i = at; i + 1 < end; i += 2) {
          const v = data.readInt16LE(i);
          sum += v * v;
        }
        const samples = (end - at) >> 1;
        const ms = (samples / rate) * 1000;
        if (samples > 0 && Math.sqrt(sum / samples) >= threshold) {
          silenceRun = 0;
          if (!inSpeech) {
            speechRun += ms;
            if (speechRun < minSpeechMs) continue;
            inSpeech = true;
            voicedMs = speechRun;
            words = finalText({ connection: number, utterance: utterance++, serverUtterance: serverUtterance++ }).split(' ');
          } else {
            voicedMs += ms;
          }
        } else {
          speechRun = 0;
          if (inSpeech) {
            silenceRun += ms;
            if (silenceRun >= eouSilenceMs) reply = result();
          }
        }
      }
      if (reply === undefined) {
        const shown = inSpeech ? words.slice(0, Math.min(words.length, Math.floor(voicedMs / partialEveryMs) + 1)).join(' ') : '';
        reply = JSON.stringify({ partial: shown });
      }
      answer(reply);
    });
  });

  const port = (wss.address() as { port: number }).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    stats,
    connections,
    close: () => new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    }),
  };
}

// Run standalone (e.g. in a child process for benchmarks): prints the port as JSON on stdout.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const fake = await startFakeVosk(JSON.parse(process.env.FAKE_VOSK_OPTIONS ?? '{}') as FakeVoskOptions);
  process.stdout.write(`${JSON.stringify({ port: fake.port })}\n`);
  process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
}
