/** Worker thread that runs eSpeak NG (WASM): synthesis blocks for tens of milliseconds per sentence. */
import { parentPort, workerData } from 'node:worker_threads';

/** Messages from the owning thread. */
export type EspeakRequest = { type: 'synth'; id: number; text: string; voice: string; rate: number };

/** Messages to the owning thread; audio is s16le mono at the engine's own rate. */
export type EspeakReply =
  | { type: 'ready'; sampleRate: number }
  | { type: 'audio'; id: number; pcm: ArrayBuffer }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'fatal'; message: string };

interface EspeakWorkerApi {
  set_voice(name: string): number;
  set_rate(wpm: number): void;
  get_samplerate(): number;
  synthesize(text: string, callback: (samples: Int16Array, events: unknown[]) => number | boolean): void;
}

interface EspeakModule {
  eSpeakNGWorker: new () => EspeakWorkerApi;
}

const port = parentPort;
// Holds the id of a job to stop; the synthesis callback polls it between blocks of audio.
const cancel = new Int32Array(workerData.cancel as SharedArrayBuffer);

async function main(): Promise<void> {
  if (port === null) return;
  let engine: EspeakWorkerApi;
  try {
    // Held in a variable: the package ships no type declarations.
    const specifier = '@echogarden/espeak-ng-emscripten';
    const factory = ((await import(specifier)) as { default: () => Promise<EspeakModule> }).default;
    const module = await factory();
    engine = new module.eSpeakNGWorker();
  } catch (err) {
    port.postMessage({ type: 'fatal', message: err instanceof Error ? err.message : String(err) } satisfies EspeakReply);
    return;
  }
  let voice = '';
  let rate = 0;
  port.postMessage({ type: 'ready', sampleRate: engine.get_samplerate() } satisfies EspeakReply);

  port.on('message', (request: EspeakRequest) => {
    const { id } = request;
    try {
      if (request.voice !== voice) {
        if (engine.set_voice(request.voice) !== 0) throw new Error(`unknown eSpeak NG voice "${request.voice}"`);
        voice = request.voice;
        rate = 0;
      }
      if (request.rate !== rate) {
        engine.set_rate(request.rate);
        rate = request.rate;
      }
      engine.synthesize(request.text, (samples) => {
        if (Atomics.load(cancel, 0) === id) return 1;
        if (samples.length > 0) {
          const pcm = samples.buffer as ArrayBuffer;
          port.postMessage({ type: 'audio', id, pcm } satisfies EspeakReply, [pcm]);
        }
        return 0;
      });
      port.postMessage({ type: 'done', id } satisfies EspeakReply);
    } catch (err) {
      port.postMessage({ type: 'error', id, message: err instanceof Error ? err.message : String(err) } satisfies EspeakReply);
    }
  });
}

await main();
