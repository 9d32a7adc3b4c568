import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakeYandexTts, type FakeYandexTts } from './fakes/yandex-tts-server.js';
import { waitFor } from './support/wait-for.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `src/main.ts` (echo pipeline, Yandex voice on `tts`) with only this environment; its log lines with the time each was read. */
function startMain(tts: FakeYandexTts, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      AUDIOSOCKET_HOST: '127.0.0.1',
      AUDIOSOCKET_PORT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      TTS_PROVIDER: 'yandex',
      YANDEX_API_KEY: 'test-key',
      YANDEX_GRPC_TLS: 'false',
      YANDEX_TTS_ENDPOINT: tts.endpoint,
      // The HTTP fallback stays out of it: the greeting is the gRPC synthesizer's alone.
      TTS_HEDGE_MS: '10000',
      YANDEX_TTS_HTTP_URL: 'http://127.0.0.1:9/',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: { at: number; entry: Record<string, unknown> }[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    const at = performance.now();
    buffered += c.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) if (line.trim().startsWith('{')) lines.push({ at, entry: JSON.parse(line) as Record<string, unknown> });
  });
  const listening = waitFor(() => {
    if (child.exitCode !== null) throw new Error(`main exited with ${child.exitCode}: ${stderr}`);
    return lines.find((l) => l.entry.msg === 'listening');
  }, 'main to listen', 60_000);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  return { lines, listening, stop };
}

test('the AudioSocket listener opens once the greeting is synthesized at both wire rates', async () => {
  const tts = await startFakeYandexTts({ firstChunkDelayMs: 800 });
  const main = startMain(tts, { GREETING_WAIT_MS: '20000' });
  try {
    const listening = await main.listening;
    const greetings = tts.requests.filter((r) => r.text.length > 0);
    assert.deepEqual(new Set(greetings.map((r) => r.sampleRate)), new Set([8000, 16000]), 'the greeting is asked for at 8 and 16 kHz');
    const synthesized = Math.max(...greetings.map((r) => r.endedAt ?? Infinity));
    assert.ok(Number.isFinite(synthesized), 'every greeting synthesis had ended when the server listened');
    assert.ok(listening.at >= synthesized, `listening ${(synthesized - listening.at).toFixed(0)} ms before the greeting was synthesized`);
  } finally {
    await main.stop();
    await tts.close();
  }
});

test('a greeting that is not ready within GREETING_WAIT_MS does not keep the server from taking calls', async () => {
  const tts = await startFakeYandexTts({ hang: true });
  const main = startMain(tts, { GREETING_WAIT_MS: '300' });
  try {
    const listening = await main.listening;
    assert.ok(tts.requests.length > 0, 'the greeting was asked for');
    assert.ok(tts.requests.every((r) => r.endedAt === undefined), 'no synthesis ended: the server listened without it');
    const warned = main.lines.find((l) => l.entry.level === 40 && String(l.entry.msg).includes('GREETING_WAIT_MS'));
    assert.ok(warned, 'one warning says the greeting was not ready');
    assert.ok(warned.at <= listening.at, 'the warning comes before the listening line');
  } finally {
    await main.stop();
    await tts.close();
  }
});
