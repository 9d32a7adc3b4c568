/**
 * The `conversation` row of the transport benchmark: the real entry (`src/main.ts`, WORKERS=1) with
 * every call a conversation (Yandex recognizer and synthesizer, an OpenAI-compatible model), the
 * provider fakes in a process of their own so that only the server's CPU is counted.
 */
import type { ServerChild } from './child.js';
import type { FakesConfig } from './fakes-child.js';
import { procUsage, startFakesChild, startServerProc } from './latency-procs.js';

/** Providers answering like fast remote services: the figures are the server's own work per call. */
const FAKES: FakesConfig = {
  largeGrpcWindow: true,
  stt: { eouSilenceMs: 600, latencyMs: 0 },
  texts: ['Could you wait a moment?', 'I would like to know my order status.'],
  llm: { firstTokenMs: 250, tokenDelayMs: 20, replies: [{ text: 'Sure, I will wait for you.' }] },
  tts: { firstChunkDelayMs: 120, msPerChar: 60, chunkMs: 100, chunkIntervalMs: 0 },
  ttsHttp: { firstChunkDelayMs: 120, msPerChar: 60, chunkMs: 100, chunkIntervalMs: 0 },
};

/** Starts the fakes child, then the server against it; usage is the server process's alone. */
export async function startConversationChild(profileDir?: string, nodeFlags: readonly string[] = [], env: Record<string, string> = {}): Promise<ServerChild> {
  const fakes = await startFakesChild(FAKES);
  let server: Awaited<ReturnType<typeof startServerProc>>;
  try {
    server = await startServerProc(
      fakes.ready,
      { WORKERS: '1', AUDIOSOCKET_MAX_CALLS: '100000', AUDIOSOCKET_IDLE_TIMEOUT_MS: '120000', DRAIN_TIMEOUT_MS: '0', ...env },
      profileDir,
      nodeFlags,
    );
  } catch (err) {
    await fakes.stop();
    throw err;
  }
  let fakesFrom = procUsage(fakes.pid);
  return {
    port: server.port,
    pid: server.pid,
    async usage() {
      const u = procUsage(server.pid);
      const f = procUsage(fakes.pid);
      // The fakes' share of the machine since the previous usage request: the server competes with it for the cores.
      const fakesCpuPct = f && fakesFrom ? ((f.cpuMs - fakesFrom.cpuMs) / (f.atMs - fakesFrom.atMs)) * 100 : NaN;
      fakesFrom = f;
      const lag = await server.loopLag();
      return {
        type: 'usage',
        cpuUserUs: (u?.cpuMs ?? 0) * 1000,
        cpuSystemUs: 0,
        atMs: performance.timeOrigin + performance.now(),
        rssBytes: u?.rssBytes ?? 0,
        loopP99Ms: lag?.p99Ms ?? NaN,
        loopMaxMs: lag?.maxMs ?? NaN,
        stats: { fakesCpuPct },
      };
    },
    async stop() {
      await server.stop();
      await fakes.stop();
    },
  };
}
