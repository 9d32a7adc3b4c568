import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { createAudioSocketServer } from '../src/audiosocket/server.js';
import { EnvReader } from '../src/config/env-reader.js';
import { silentLogger } from '../src/logger.js';
import { readOpsConfig } from '../src/metrics/config.js';
import { createOpsHttpServer, type OpsHttpServer, type Readiness } from '../src/metrics/http-server.js';
import { createMetrics, TURN_STAGES, type ServerStatsSnapshot } from '../src/metrics/metrics.js';
import { restartDelay } from '../src/ops/worker-pool.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { waitFor } from './support/wait-for.js';

async function get(port: number, path: string, method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** Value of one sample line, e.g. `voicebot_calls_total{outcome="caller_hangup"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('ops HTTP server', () => {
  const metrics = createMetrics();
  let active = 0;
  const stats: { framesIn: number; framesOut: number; underruns: number; refused: Record<string, number> } = {
    framesIn: 0,
    framesOut: 0,
    underruns: 0,
    refused: {},
  };
  let providerState: Readiness = { ready: true, reasons: [] };
  let http: OpsHttpServer;
  let port: number;

  before(async () => {
    metrics.bindActiveCalls(() => active);
    metrics.bindServerStats((): ServerStatsSnapshot => stats);
    http = createOpsHttpServer({
      host: '127.0.0.1',
      port: 0,
      log: silentLogger(),
      metrics,
      readiness: () => providerState,
    });
    port = await http.listen();
  });
  after(() => http.close());

  test('/metrics serves the Prometheus text format with process metrics', async () => {
    const res = await get(port, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^# HELP voicebot_active_calls /m);
    assert.match(res.body, /^# TYPE voicebot_turn_latency_seconds histogram$/m);
    assert.match(res.body, /^# TYPE voicebot_frames_in_total counter$/m);
    assert.match(res.body, /^process_cpu_user_seconds_total /m);
    for (const stage of TURN_STAGES) {
      assert.equal(sample(res.body, `voicebot_turn_latency_seconds_count{stage="${stage}"}`), 0);
    }
  });

  test('counters move with observer calls and server stats', async () => {
    active = 3;
    stats.framesIn = 1500;
    stats.framesOut = 1400;
    stats.underruns = 2;
    stats.refused = { max_calls: 4, not_allowed: 1 };
    metrics.callEnded('caller_hangup');
    metrics.callEnded('caller_hangup');
    metrics.callEnded('drain');
    metrics.callEnded('drain', 'sales');
    metrics.providerError('yandex_tts', 'tts_unavailable');
    metrics.fallback('tts');
    metrics.hedge('llm', 'fallback');
    metrics.bargeIn();
    metrics.turnStage('first_frame', 42);
    metrics.turnStage('voice_to_voice', 900);

    const body = (await get(port, '/metrics')).body;
    assert.equal(sample(body, 'voicebot_active_calls'), 3);
    assert.equal(sample(body, 'voicebot_frames_in_total'), 1500);
    assert.equal(sample(body, 'voicebot_frames_out_total'), 1400);
    assert.equal(sample(body, 'voicebot_playout_underruns_total'), 2);
    assert.equal(sample(body, 'voicebot_connections_refused_total{reason="max_calls"}'), 4);
    assert.equal(sample(body, 'voicebot_connections_refused_total{reason="not_allowed"}'), 1);
    assert.equal(sample(body, 'voicebot_calls_total{outcome="caller_hangup",agent="default"}'), 2);
    assert.equal(sample(body, 'voicebot_calls_total{outcome="drain",agent="default"}'), 1);
    assert.equal(sample(body, 'voicebot_calls_total{outcome="drain",agent="sales"}'), 1);
    assert.equal(sample(body, 'voicebot_provider_errors_total{provider="yandex_tts",code="tts_unavailable"}'), 1);
    assert.equal(sample(body, 'voicebot_fallbacks_total{provider="tts"}'), 1);
    assert.equal(sample(body, 'voicebot_hedges_total{provider="llm",winner="fallback"}'), 1);
    assert.equal(sample(body, 'voicebot_barge_ins_total'), 1);
    assert.equal(sample(body, 'voicebot_turn_latency_seconds_bucket{le="0.05",stage="first_frame"}'), 1);
    assert.equal(sample(body, 'voicebot_turn_latency_seconds_bucket{le="0.025",stage="first_frame"}'), 0);
    assert.equal(sample(body, 'voicebot_turn_latency_seconds_sum{stage="voice_to_voice"}'), 0.9);

    stats.framesIn = 1600;
    const later = (await get(port, '/metrics')).body;
    assert.equal(sample(later, 'voicebot_frames_in_total'), 1600);
  });

  test('a stats reader that throws does not break the scrape', async () => {
    const local = createMetrics({ processMetrics: false });
    local.bindServerStats(() => {
      throw new Error('boom');
    });
    local.bindActiveCalls(() => Number.NaN);
    const text = await local.render();
    assert.equal(sample(text, 'voicebot_active_calls'), 0);
    assert.equal(sample(text, 'voicebot_frames_in_total'), 0);
  });

  test('/healthz answers 200 JSON', async () => {
    const res = await get(port, '/healthz');
    assert.equal(res.status, 200);
    assert.match(res.type, /application\/json/);
    assert.equal(JSON.parse(res.body).status, 'ok');
  });

  test('/readyz flips to 503 when a provider is down and back when it recovers', async () => {
    assert.equal((await get(port, '/readyz')).status, 200);
    providerState = { ready: false, reasons: ['asr down'] };
    const down = await get(port, '/readyz');
    assert.equal(down.status, 503);
    assert.deepEqual(JSON.parse(down.body), { ready: false, reasons: ['asr down'] });
    providerState = { ready: true, reasons: [] };
    assert.deepEqual(JSON.parse((await get(port, '/readyz')).body), { ready: true, reasons: [] });
  });

  test('HEAD works without a body, other methods get 405, unknown paths 404', async () => {
    const head = await get(port, '/healthz', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await get(port, '/metrics', 'POST')).status, 405);
    assert.equal((await get(port, '/nope')).status, 404);
    assert.equal((await get(port, '/metrics/extra')).status, 404);
    assert.equal((await get(port, '/healthz?verbose=1')).status, 200);
  });

  test('/readyz answers 503 draining once draining starts, /healthz stays 200', async () => {
    http.markDraining();
    const res = await get(port, '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(JSON.parse(res.body).reasons, ['draining']);
    assert.equal((await get(port, '/healthz')).status, 200);
  });
});

test('close drops idle keep-alive connections', async (t) => {
  const http = createOpsHttpServer({ host: '127.0.0.1', port: 0, log: silentLogger() });
  const port = await http.listen();
  const agent = new Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  await new Promise<void>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    })
      .on('error', reject)
      .end();
  });
  const started = Date.now();
  await http.close();
  assert.ok(Date.now() - started < 5000, 'idle keep-alive connections do not hold the close');
  agent.destroy();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
});

test('ops config defaults and bind host fallback', () => {
  const defaults = readOpsConfig(new EnvReader({}));
  assert.equal(defaults.httpPort, 8080);
  assert.equal(defaults.httpHost, '0.0.0.0');
  assert.equal(defaults.drainTimeoutMs, 30_000);
  assert.equal(defaults.callRecord.webhookUrl, undefined);
  assert.equal(defaults.callRecord.recordTranscripts, false);
  assert.equal(readOpsConfig(new EnvReader({ AUDIOSOCKET_HOST: '10.0.0.5' })).httpHost, '10.0.0.5');
  assert.equal(readOpsConfig(new EnvReader({ AUDIOSOCKET_HOST: '10.0.0.5', HTTP_HOST: '127.0.0.1' })).httpHost, '127.0.0.1');

  const bad = new EnvReader({ CALL_WEBHOOK_URL: 'ftp://x', CALL_WEBHOOK_RETRIES: '99', HTTP_PORT: 'abc' });
  readOpsConfig(bad);
  assert.throws(() => bad.finish(), (err: Error) => {
    assert.match(err.message, /CALL_WEBHOOK_URL/);
    assert.match(err.message, /CALL_WEBHOOK_RETRIES/);
    assert.match(err.message, /HTTP_PORT/);
    return true;
  });
});

test('WORKERS is a positive whole number or auto (one per core)', () => {
  assert.equal(readOpsConfig(new EnvReader({})).workers, 1);
  assert.equal(readOpsConfig(new EnvReader({ WORKERS: '3' })).workers, 3);
  assert.equal(readOpsConfig(new EnvReader({ WORKERS: 'auto' })).workers, availableParallelism());
  for (const value of ['0', '-1', '1.5', 'many', '1000']) {
    const reader = new EnvReader({ WORKERS: value });
    readOpsConfig(reader);
    assert.throws(() => reader.finish(), /WORKERS/, value);
  }
});

test('a crash loop waits longer before each restart, up to 30 s', () => {
  const crashes: number[] = [];
  const delays = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => restartDelay(crashes, 1000 + i * 100));
  assert.deepEqual(delays, [0, 0, 0, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(restartDelay(crashes, 1000 + 9 * 100 + 60_000), 0, 'crashes a minute old no longer count');
});

test('server counters reach /metrics from a live AudioSocket server', async (t) => {
  const server = createAudioSocketServer({
    config: { host: '127.0.0.1', port: 0, maxCalls: 1 },
    log: silentLogger(),
    onCall: () => {},
  });
  const { port } = await server.listen();
  t.after(() => server.close());
  const metrics = createMetrics({ processMetrics: false });
  metrics.bindActiveCalls(() => server.activeCalls);
  metrics.bindServerStats(() => server.stats);

  const call = await SimulatedCall.connect({ port, sampleRate: 16000 });
  await waitFor(() => server.activeCalls >= 1 && server.stats.framesIn >= 5, 'the call and its first frames');
  const refused = await SimulatedCall.connect({ port });
  await refused.closed;

  const text = await metrics.render();
  assert.equal(sample(text, 'voicebot_active_calls'), 1);
  assert.equal(sample(text, 'voicebot_connections_accepted_total'), 1);
  assert.equal(sample(text, 'voicebot_connections_refused_total{reason="capacity"}'), 1);
  assert.ok((sample(text, 'voicebot_frames_in_total') ?? 0) >= 5);
  assert.ok((sample(text, 'voicebot_frames_out_total') ?? 0) >= 1);

  await call.hangUp();
  await server.close();
  assert.equal(sample(await metrics.render(), 'voicebot_active_calls'), 0);
});
