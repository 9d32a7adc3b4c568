/**
 * Worker-thread entry for the transport benchmark: holds a share of the simulated calls, each
 * playing an utterance now and then over line silence, and measures frame arrival in a window.
 */
import { setPriority } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimulatedCall } from '../../src/sim/simulated-call.js';
import { jitterStats } from '../../src/sim/stats.js';
import { lateMs, LOOP_SAMPLE_MS } from './loop-lag.js';

/** What the parent gives each worker. */
export interface ClientsWorkerData {
  port: number;
  calls: number;
  /** s16le 8 kHz utterance each call plays every `repeatMs` (empty: silence only). */
  utterance: Uint8Array;
  repeatMs: number;
  /** Nice value for this thread (0 = unchanged). */
  nice: number;
}

/** Messages from the parent. */
export type ToWorker = { type: 'measure'; fromMs: number; toMs: number };

/** Messages to the parent. */
export type FromWorker =
  | { type: 'connected'; calls: number; failures: string[] }
  | {
      type: 'result';
      deviations: Float64Array;
      frames: number;
      early: number;
      late: number;
      lost: number;
      callsEndedEarly: number;
      loopDelayP99Ms: number;
    };

const data = workerData as ClientsWorkerData;
// Linux nice values are per thread: callers yield the CPU to the server under test, as if on another host.
if (data.nice) {
  try {
    setPriority(0, data.nice);
  } catch {
    // Not allowed here: measure at normal priority.
  }
}
const port = parentPort!;
const loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
loop.enable();

const calls: { call: SimulatedCall; t0: number }[] = [];
const failures: string[] = [];
const utterance = Buffer.from(data.utterance.buffer, data.utterance.byteOffset, data.utterance.byteLength);
const timers: NodeJS.Timeout[] = [];

// Connect in small batches so the listen backlog never overflows.
for (let i = 0; i < data.calls; i += 25) {
  const batch = await Promise.allSettled(
    Array.from({ length: Math.min(25, data.calls - i) }, () =>
      SimulatedCall.connect({ port: data.port, sampleRate: 8000, keepPayload: false, analyze: false, keepFrames: false }),
    ),
  );
  for (const r of batch) {
    if (r.status === 'rejected') {
      failures.push((r.reason as Error).message);
      continue;
    }
    const call = r.value;
    calls.push({ call, t0: performance.now() - call.nowMs() });
    if (utterance.length > 0) {
      const first = Math.random() * data.repeatMs;
      timers.push(setTimeout(() => {
        void call.play(utterance);
        timers.push(setInterval(() => void call.play(utterance), data.repeatMs));
      }, first));
    }
  }
  await sleep(20);
}
port.postMessage({ type: 'connected', calls: calls.length, failures } satisfies FromWorker);

port.on('message', async (msg: ToWorker) => {
  if (msg.type !== 'measure') return;
  loop.reset();
  const wait = msg.toMs - (performance.timeOrigin + performance.now());
  if (wait > 0) await sleep(wait);
  const loopDelayP99Ms = lateMs(loop.percentile(99), LOOP_SAMPLE_MS);
  for (const t of timers) clearTimeout(t);
  let frames = 0;
  let early = 0;
  let late = 0;
  let lost = 0;
  let endedEarly = 0;
  const parts: Float64Array[] = [];
  for (const { call, t0 } of calls) {
    if (!call.active) endedEarly++;
    const base = performance.timeOrigin + t0;
    const arrivals = call.arrivalsMs.map((at) => base + at).filter((t) => t >= msg.fromMs && t <= msg.toMs);
    const stats = jitterStats(arrivals);
    frames += stats.frames;
    early += stats.early;
    late += stats.late;
    lost += stats.lost;
    const dev = new Float64Array(Math.max(0, arrivals.length - 1));
    for (let i = 1; i < arrivals.length; i++) dev[i - 1] = Math.abs(arrivals[i]! - arrivals[i - 1]! - 20);
    parts.push(dev);
  }
  await Promise.all(calls.map(({ call }) => call.hangUp()));
  const deviations = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    deviations.set(p, offset);
    offset += p.length;
  }
  const result: FromWorker = { type: 'result', deviations, frames, early, late, lost, callsEndedEarly: endedEarly, loopDelayP99Ms };
  port.postMessage(result, [deviations.buffer]);
});
