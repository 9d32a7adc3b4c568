/** The embedded offline voice: eSpeak NG (WASM) in worker threads, resampled to the call's rate. */
import { Worker } from 'node:worker_threads';
import { createResampler } from '../audio/resample.js';
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LocalTtsConfig } from './config.js';
import type { EspeakReply, EspeakRequest } from './espeak-worker.js';
import type { Tts, TtsRequest } from './tts.js';

/** The local voice, plus shutdown of its worker threads. */
export interface LocalTts extends Tts {
  /** Starts the workers and loads the voice data now instead of on the first synthesis. */
  warmUp(): Promise<void>;
  /** Stops the workers; a later synthesis starts them again. */
  close(): Promise<void>;
}

/** What the local voice needs besides its settings. */
export interface LocalTtsDeps {
  log: Logger;
}

interface Job {
  id: number;
  request: EspeakRequest;
  push(pcm: Buffer, sampleRate: number): void;
  end(err?: Error): void;
}

/**
 * The worker's entry. From the TypeScript sources the worker loads it through tsx's `tsImport`,
 * since Node 20 workers do not get the `--import tsx` hooks; the build runs the compiled .js.
 */
const WORKER_ENTRY = import.meta.url.endsWith('.ts')
  ? { entry: new URL('./espeak-worker.ts', import.meta.url).href, tsx: import.meta.resolve('tsx/esm/api') }
  : { entry: new URL('./espeak-worker.js', import.meta.url).href, tsx: undefined };

const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) await (await import(workerData.tsx)).tsImport(workerData.entry, workerData.entry);
  else await import(workerData.entry);
})().catch((err) => { process.nextTick(() => { throw err; }); });
`;

class EspeakThread {
  readonly #log: Logger;
  readonly #cancel = new Int32Array(new SharedArrayBuffer(4));
  readonly #worker: Worker;
  readonly ready: Promise<number>;
  #current: Job | undefined;
  #sampleRate = 22050;
  #dead = false;
  onIdle: () => void = () => {};
  onExit: () => void = () => {};

  constructor(log: Logger) {
    this.#log = log;
    this.#worker = new Worker(BOOTSTRAP, { eval: true, workerData: { cancel: this.#cancel.buffer, ...WORKER_ENTRY } });
    this.#worker.unref();
    this.ready = new Promise<number>((resolve, reject) => {
      this.#worker.on('message', (reply: EspeakReply) => {
        if (reply.type === 'ready') {
          this.#sampleRate = reply.sampleRate;
          resolve(reply.sampleRate);
        } else if (reply.type === 'fatal') reject(new VoicebotError('tts_unavailable', `eSpeak NG failed to start: ${reply.message}`));
        else this.#onReply(reply);
      });
      this.#worker.on('error', (err) => {
        this.#log.error({ err }, 'eSpeak worker crashed');
        reject(new VoicebotError('tts_unavailable', `eSpeak NG worker failed: ${err.message}`, { cause: err }));
      });
      this.#worker.on('exit', () => {
        this.#dead = true;
        reject(new VoicebotError('tts_unavailable', 'eSpeak NG worker exited'));
        this.#current?.end(new VoicebotError('tts_failed', 'eSpeak NG worker exited during synthesis'));
        this.#current = undefined;
        this.onExit();
      });
    });
    this.ready.catch(() => {});
  }

  get busy(): boolean {
    return this.#current !== undefined;
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** Takes the job now (the thread counts as busy at once) and starts it when the engine is ready. */
  run(job: Job): void {
    this.#current = job;
    // Only an active job keeps the process alive.
    this.#worker.ref();
    this.ready.then(
      () => this.#worker.postMessage(job.request),
      (err: Error) => {
        this.#current = undefined;
        this.#worker.unref();
        job.end(err);
      },
    );
  }

  /** Stops the running job at the next block of audio (about 90 ms of speech). */
  cancel(id: number): void {
    Atomics.store(this.#cancel, 0, id);
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  #onReply(reply: EspeakReply): void {
    const job = this.#current;
    if (job === undefined || !('id' in reply) || reply.id !== job.id) return;
    if (reply.type === 'audio') {
      job.push(Buffer.from(reply.pcm), this.#sampleRate);
      return;
    }
    this.#current = undefined;
    this.#worker.unref();
    if (reply.type === 'done') job.end();
    else if (reply.type === 'error') job.end(new VoicebotError('tts_failed', reply.message));
    this.onIdle();
  }
}

/** A Tts speaking with eSpeak NG: no account, no network; `voice` is an eSpeak voice (`ru`, `en-us`). */
export function createLocalTts(config: LocalTtsConfig, deps: LocalTtsDeps): LocalTts {
  const log = deps.log.child({ provider: 'local-tts' });
  const size = Math.max(1, config.workers);
  let threads: EspeakThread[] = [];
  const queue: Job[] = [];
  let nextId = 1;

  const ensureThreads = (): EspeakThread[] => {
    threads = threads.filter((t) => !t.dead);
    while (threads.length < size) {
      const thread = new EspeakThread(log);
      thread.onIdle = dispatch;
      thread.onExit = dispatch;
      threads.push(thread);
    }
    return threads;
  };

  function dispatch(): void {
    // Threads are (re)started only for work waiting: an exit during close() must not respawn one.
    if (queue.length === 0) return;
    for (const thread of ensureThreads()) {
      if (thread.busy || queue.length === 0) continue;
      const job = queue.shift()!;
      running.set(job.id, thread);
      thread.run(job);
    }
  }
  const running = new Map<number, EspeakThread>();

  return {
    async warmUp(): Promise<void> {
      await Promise.all(ensureThreads().map((t) => t.ready));
    },

    async close(): Promise<void> {
      const closing = threads;
      threads = [];
      await Promise.all(closing.map((t) => t.terminate()));
    },

    async *synthesize(text: string, request: TtsRequest): AsyncIterable<Buffer> {
      const { sampleRate, signal } = request;
      if (signal.aborted || text.trim() === '') return;
      const id = nextId++;
      const pending: Buffer[] = [];
      let engineRate = 22050;
      let finished = false;
      let failure: Error | undefined;
      let wake: (() => void) | undefined;
      const notify = (): void => {
        wake?.();
        wake = undefined;
      };
      const job: Job = {
        id,
        request: { type: 'synth', id, text, voice: config.voice, rate: config.rate },
        push: (pcm, rate) => {
          engineRate = rate;
          pending.push(pcm);
          notify();
        },
        end: (err) => {
          running.delete(id);
          finished = true;
          failure = err;
          notify();
        },
      };
      const onAbort = (): void => notify();
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(job);
      dispatch();

      let resampler: ReturnType<typeof createResampler> | undefined;
      try {
        for (;;) {
          if (signal.aborted) return;
          const pcm = pending.shift();
          if (pcm !== undefined) {
            resampler ??= createResampler(engineRate, sampleRate);
            const out = resampler.process(pcm);
            if (out.length > 0) yield out;
            continue;
          }
          if (finished) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
        if (failure !== undefined) {
          log.warn({ code: failure instanceof VoicebotError ? failure.code : 'unknown' }, 'synthesis failed');
          throw failure instanceof VoicebotError ? failure : new VoicebotError('tts_failed', failure.message, { cause: failure });
        }
        const tail = resampler?.flush();
        if (tail !== undefined && tail.length > 0) yield tail;
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (!finished) {
          const queued = queue.indexOf(job);
          if (queued >= 0) queue.splice(queued, 1);
          running.get(id)?.cancel(id);
        }
      }
    },
  };
}
