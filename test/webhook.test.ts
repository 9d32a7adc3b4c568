import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { CallSummary } from '../src/call/call-summary.js';
import type { CallRecordConfig } from '../src/metrics/config.js';
import { buildCallRecord, createCallRecorder, type CallRecord, type RecordableCall } from '../src/ops/call-record.js';

/** A pino logger that keeps every line as an object. */
function captureLogger(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}

/**
 * A webhook receiver that answers each POST with the next status of `statuses` (then 200),
 * after `delayMs`. It is closed when the test ends, whether the test passed or not.
 */
async function startReceiver(t: TestContext, statuses: number[], delayMs = 0) {
  const bodies: { body: string; headers: IncomingMessage['headers']; at: number }[] = [];
  let arrived = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    arrived++;
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push({ body, headers: req.headers, at: Date.now() });
      const status = statuses.shift() ?? 200;
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      }, delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  t.after(close);
  return {
    url: `http://127.0.0.1:${port}/hooks/calls?token=s3cr3t`,
    bodies,
    /** Requests that reached the receiver, complete or not. */
    get arrived() {
      return arrived;
    },
    close,
  };
}

function config(overrides: Partial<CallRecordConfig>): CallRecordConfig {
  return {
    webhookUrl: undefined,
    webhookSecret: undefined,
    webhookTimeoutMs: 10_000,
    webhookRetries: 3,
    maskCallerNumber: true,
    webhookBackoffMs: 20,
    webhookMaxInFlight: 10,
    recordTranscripts: false,
    ...overrides,
  };
}

const summary: RecordableCall = {
  callId: '4f1c2a9e-6b1d-4a7e-9c3b-2d5e8f0a1b2c',
  startedAt: Date.parse('2026-11-24T06:00:00.000Z'),
  endedAt: Date.parse('2026-11-24T06:01:30.250Z'),
  outcome: 'caller_hangup',
  turns: [
    { stages: { asr_final: 310.44, llm_first_token: 420, first_frame: 690.07, voice_to_voice: 1010 } },
    { stages: { asr_final: 280, voice_to_voice: Number.NaN } },
  ],
  transcript: [
    { role: 'caller', text: 'my card number is 1234', atMs: 1200 },
    { role: 'bot', text: 'thank you', atMs: 2500 },
  ],
};

test('a record carries id, ISO start, duration, outcome and per-turn stages, and no transcript by default', () => {
  const record = buildCallRecord(summary, false);
  assert.deepEqual(record, {
    callId: summary.callId,
    start: '2026-11-24T06:00:00.000Z',
    durationMs: 90_250,
    outcome: 'caller_hangup',
    turns: [
      { stages: { asr_final: 310.4, llm_first_token: 420, first_frame: 690.1, voice_to_voice: 1010 } },
      { stages: { asr_final: 280 } },
    ],
  });
  assert.equal(buildCallRecord(summary, true).transcript?.length, 2);
});

test('a conversation summary is recorded as is, voice-to-voice joining the stages', () => {
  const conversation: CallSummary = {
    callId: summary.callId,
    startedAt: Date.parse('2026-11-24T06:00:00.000Z'),
    durationMs: 4_200.4,
    outcome: 'drain',
    turns: [
      { turn: 1, stages: { asr_final: 300, first_frame: 700 }, voiceToVoiceMs: 700, speculative: true, interrupted: false },
      { turn: 2, stages: {}, voiceToVoiceMs: undefined, speculative: false, interrupted: true },
    ],
    transcript: [{ role: 'caller', text: 'hello' }],
  };
  assert.deepEqual(buildCallRecord(conversation, true), {
    callId: summary.callId,
    start: '2026-11-24T06:00:00.000Z',
    durationMs: 4_200,
    outcome: 'drain',
    turns: [
      { stages: { asr_final: 300, first_frame: 700, voice_to_voice: 700 }, speculative: true },
      { stages: {}, interrupted: true },
    ],
    transcript: [{ role: 'caller', text: 'hello' }],
  });
});

test('the record goes to the info log without a transcript, and to the webhook', async (t) => {
  const receiver = await startReceiver(t, []);
  const { log, lines } = captureLogger('info');
  const recorder = createCallRecorder(config({ webhookUrl: receiver.url, recordTranscripts: true }), log);
  recorder.record(summary);
  await recorder.flush(10_000);
  await receiver.close();

  const logged = lines.find((l) => l.record !== undefined);
  assert.ok(logged);
  assert.equal(logged.level, 30);
  const record = logged.record as CallRecord;
  assert.equal(record.callId, summary.callId);
  assert.equal(record.transcript, undefined);
  assert.doesNotMatch(JSON.stringify(lines), /card number/);

  assert.equal(receiver.bodies.length, 1);
  const posted = JSON.parse(receiver.bodies[0]!.body) as CallRecord;
  assert.equal(posted.transcript?.[0]?.text, 'my card number is 1234');
  assert.equal(receiver.bodies[0]!.headers['content-type'], 'application/json');
});

test('without RECORD_TRANSCRIPTS the webhook gets no transcript either', async (t) => {
  const receiver = await startReceiver(t, []);
  const recorder = createCallRecorder(config({ webhookUrl: receiver.url }), captureLogger().log);
  recorder.record(summary);
  await recorder.flush(10_000);
  await receiver.close();
  const posted = JSON.parse(receiver.bodies[0]!.body) as CallRecord;
  assert.equal(posted.transcript, undefined);
  assert.doesNotMatch(receiver.bodies[0]!.body, /card number/);
});

test('5xx answers are retried with growing backoff until a 200', async (t) => {
  const receiver = await startReceiver(t, [503, 500]);
  const { log, lines } = captureLogger();
  const recorder = createCallRecorder(config({ webhookUrl: receiver.url, webhookBackoffMs: 40 }), log);
  recorder.record(summary);
  assert.equal(recorder.pending, 1);
  await recorder.flush(10_000);
  await receiver.close();

  assert.equal(receiver.bodies.length, 3);
  assert.equal(receiver.bodies[0]!.body, receiver.bodies[2]!.body, 'every attempt sends the same record');
  const gap1 = receiver.bodies[1]!.at - receiver.bodies[0]!.at;
  const gap2 = receiver.bodies[2]!.at - receiver.bodies[1]!.at;
  assert.ok(gap1 >= 30, `first backoff ${gap1} ms`);
  assert.ok(gap2 >= 70, `second backoff ${gap2} ms`);
  assert.equal(recorder.pending, 0);
  assert.deepEqual(lines.filter((l) => Number(l.level) >= 40), [], 'a delivery that succeeded in the end is no warning');
});

test('a 4xx answer is not retried and is reported once', async (t) => {
  const receiver = await startReceiver(t, [400]);
  const { log, lines } = captureLogger();
  const recorder = createCallRecorder(config({ webhookUrl: receiver.url }), log);
  recorder.record(summary);
  await recorder.flush(10_000);
  await receiver.close();
  assert.equal(receiver.bodies.length, 1);
  const warnings = lines.filter((l) => Number(l.level) >= 40);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.status, 400);
});

test('an unreachable webhook gets bounded retries, then one warning that leaks no token', async (t) => {
  const receiver = await startReceiver(t, []);
  const url = receiver.url;
  await receiver.close();
  const { log, lines } = captureLogger();
  const recorder = createCallRecorder(config({ webhookUrl: url, webhookRetries: 2, webhookBackoffMs: 10 }), log);

  assert.doesNotThrow(() => recorder.record(summary));
  await recorder.flush(10_000);

  const warnings = lines.filter((l) => l.level === 40);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.attempts, 3);
  assert.equal(warnings[0]!.error, 'ECONNREFUSED');
  assert.doesNotMatch(JSON.stringify(lines), /s3cr3t|hooks\/calls/);
  assert.equal(recorder.pending, 0);
});

test('a slow webhook times out per attempt and flush waits only as long as asked', async (t) => {
  const receiver = await startReceiver(t, [], 3_000);
  const { log, lines } = captureLogger();
  const recorder = createCallRecorder(
    config({ webhookUrl: receiver.url, webhookTimeoutMs: 1_000, webhookRetries: 1, webhookBackoffMs: 10 }),
    log,
  );
  recorder.record(summary);
  const started = Date.now();
  await recorder.flush(50);
  // Well before the first attempt's own timeout.
  assert.ok(Date.now() - started < 800, 'flush gives up at its own timeout');
  assert.equal(recorder.pending, 1);
  const warnings = () => lines.filter((l) => Number(l.level) >= 40);
  assert.deepEqual(warnings().map((l) => l.pending), [1], 'one warning names what is still in flight');

  await recorder.flush(10_000);
  assert.equal(recorder.pending, 0);
  assert.equal(receiver.arrived, 2);
  assert.equal(warnings().length, 2);
  assert.deepEqual([warnings()[1]!.error, warnings()[1]!.attempts], ['timeout', 2]);
  await receiver.close();
});

test('records beyond the in-flight bound are dropped with a warning, never queued without limit', async (t) => {
  const receiver = await startReceiver(t, [], 300);
  const { log, lines } = captureLogger();
  const recorder = createCallRecorder(config({ webhookUrl: receiver.url, webhookMaxInFlight: 2 }), log);
  for (let i = 0; i < 5; i++) recorder.record({ ...summary, callId: `call-${i}` });
  assert.equal(recorder.pending, 2);
  const dropped = lines.filter((l) => Number(l.level) >= 40);
  assert.deepEqual(dropped.map((l) => l.callId), ['call-2', 'call-3', 'call-4'], 'one warning per dropped record');
  assert.equal(lines.filter((l) => l.record !== undefined).length, 5, 'every record is still logged');
  await recorder.flush(10_000);
  await receiver.close();
  assert.equal(receiver.bodies.length, 2);
});

test('with a secret, the body is signed with HMAC-SHA256', async (t) => {
  const receiver = await startReceiver(t, []);
  const recorder = createCallRecorder(config({ webhookUrl: receiver.url, webhookSecret: 'k3y' }), captureLogger().log);
  recorder.record(summary);
  await recorder.flush(10_000);
  await receiver.close();
  const { body, headers } = receiver.bodies[0]!;
  assert.equal(headers['x-voicebot-signature'], `sha256=${createHmac('sha256', 'k3y').update(body).digest('hex')}`);
});

test('without a webhook URL the recorder only logs and flush returns at once', async () => {
  const { log, lines } = captureLogger();
  const recorder = createCallRecorder(config({}), log);
  recorder.record(summary);
  assert.equal(recorder.pending, 0);
  await recorder.flush(1_000);
  assert.equal(lines.filter((l) => l.record !== undefined).length, 1);
});
