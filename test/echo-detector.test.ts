import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EchoDetector, type EchoVerdict } from '../src/audio/echo-detector.js';
import { concatPcm, dbfs, silence, silenceFrame, toFrames } from '../src/audio/frames.js';
import { parseWav } from '../src/audio/wav.js';
import { EchoPath, type EchoOptions } from '../src/sim/echo-path.js';
import { fakeSpeechPcm } from './fakes/yandex-tts-server.js';

const RATE = 8000;
const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));

async function wav(stem: string): Promise<Buffer> {
  return parseWav(await readFile(`${AUDIO_DIR}${stem}-8k.wav`)).pcm;
}

/** One judged inbound frame: its start (ms), whether the caller's clip was voiced in it, and the verdict. */
interface Judged {
  atMs: number;
  callerVoiced: boolean;
  verdict: EchoVerdict;
}

/**
 * The bot's audio goes out in 20 ms frames; what comes back is its echo (when given) plus the
 * caller's clip from `caller.atMs`. Inbound frames arrive up to `jitterMs` late (a fixed pattern).
 */
function judge(bot: Buffer, echo: EchoOptions | undefined, caller?: { pcm: Buffer; atMs: number }, jitterMs = 3): { frames: Judged[]; detector: EchoDetector } {
  const detector = new EchoDetector();
  const path = echo === undefined ? undefined : new EchoPath(echo, RATE);
  const out = toFrames(bot, RATE);
  const clip = caller === undefined ? [] : toFrames(caller.pcm, RATE);
  const first = Math.round((caller?.atMs ?? 0) / 20);
  const frames: Judged[] = [];
  for (let k = 0; k < out.length + 20; k++) {
    const sentAt = k * 20;
    const frame = out[k] ?? silenceFrame(RATE);
    detector.outbound(frame, RATE, sentAt);
    path?.played(frame, RATE, sentAt);
    const callerFrame = clip[k - first];
    let inbound = callerFrame ?? silenceFrame(RATE);
    if (path !== undefined) inbound = path.mix(inbound, sentAt + 20);
    const verdict = detector.inbound(inbound, RATE, sentAt + 20 + ((k * 7) % 10) * (jitterMs / 10));
    frames.push({ atMs: sentAt, callerVoiced: callerFrame !== undefined && dbfs(callerFrame) > -45, verdict });
  }
  return { frames, detector };
}

const botSpeech = async () => concatPcm([await wav('en-order'), silence(300, RATE), await wav('ru-number'), silence(300, RATE), await wav('en-number')]);

describe('echo detector', { concurrency: true }, () => {
  for (const echo of [{ delayMs: 60, gainDb: -12 }, { delayMs: 200, gainDb: -6 }, { delayMs: 30, gainDb: -20 }]) {
    test(`the bot's echo alone (${echo.delayMs} ms, ${echo.gainDb} dB) is never taken for the caller, and its path is learned`, async () => {
      const { frames, detector } = judge(await botSpeech(), echo);
      const loud = frames.filter((f) => f.verdict.inboundDb > -50);
      assert.ok(loud.length > 200, `${loud.length} frames carry echo`);
      const caller = frames.filter((f) => f.verdict.callerLikely);
      assert.deepEqual(caller.map((f) => f.atMs), [], 'frames taken for the caller');
      assert.ok(loud.filter((f) => f.atMs > 1000).every((f) => f.verdict.echoLikely), 'echo frames after the first second are called echo');
      const path = detector.estimate();
      assert.equal(path.converged, true);
      assert.ok(Math.abs(path.delayMs - echo.delayMs) <= 10, `delay ${path.delayMs} ms for ${echo.delayMs}`);
      assert.ok(path.lossDb >= -echo.gainDb - 1 && path.lossDb <= -echo.gainDb + 8, `loss ${path.lossDb} dB for ${-echo.gainDb}`);
    });
  }

  test("the TTS fake's tone coming back is echo too", () => {
    const tone = (text: string) => fakeSpeechPcm(text, RATE, { msPerChar: 60, toneHz: 440 });
    const bot = concatPcm([tone('Sure, let me look that up.'), silence(500, RATE), tone('Your order ships tomorrow.'), silence(300, RATE), tone('Anything else?')]);
    const { frames } = judge(bot, { delayMs: 200, gainDb: -6 });
    assert.deepEqual(frames.filter((f) => f.verdict.callerLikely).map((f) => f.atMs), []);
  });

  test('the caller speaking over the echo is heard within 100 ms of the onset', async () => {
    const bot = await botSpeech();
    for (const [stem, atMs] of [['en-wait', 2500], ['ru-wait', 5200], ['en-wait', 7900]] as const) {
      const { frames } = judge(bot, { delayMs: 60, gainDb: -12 }, { pcm: await wav(stem), atMs });
      const onset = frames.find((f) => f.callerVoiced)!;
      const before = frames.filter((f) => f.atMs < onset.atMs && f.verdict.callerLikely);
      assert.deepEqual(before.map((f) => f.atMs), [], `caller frames before the onset (${stem} at ${atMs} ms)`);
      const heard = frames.find((f) => f.atMs >= onset.atMs && f.verdict.callerLikely);
      assert.ok(heard !== undefined && heard.atMs - onset.atMs <= 100, `${stem} at ${atMs} ms heard ${heard === undefined ? 'never' : `${heard.atMs - onset.atMs} ms after its onset`}`);
      const voiced = frames.filter((f) => f.callerVoiced && f.verdict.inboundDb > -30);
      const share = voiced.filter((f) => f.verdict.callerLikely).length / voiced.length;
      assert.ok(share > 0.6, `${Math.round(share * 100)} % of the caller's loud frames heard as the caller`);
    }
  });

  test('the caller speaking over a silent line is the caller from the first voiced frame', async () => {
    const { frames } = judge(silence(3000, RATE), undefined, { pcm: await wav('en-order'), atMs: 500 });
    const voiced = frames.filter((f) => f.verdict.inboundDb > -40);
    assert.ok(voiced.length > 50);
    assert.ok(voiced.every((f) => f.verdict.callerLikely && !f.verdict.echoLikely && f.verdict.echoDb === -100));
  });

  test('the caller speaking over the bot on a line without echo is the caller', async () => {
    const { frames } = judge(await botSpeech(), undefined, { pcm: await wav('ru-order'), atMs: 3000 });
    const voiced = frames.filter((f) => f.callerVoiced && f.verdict.inboundDb > -40);
    assert.ok(voiced.length > 50);
    assert.ok(voiced.every((f) => f.verdict.callerLikely), 'every loud caller frame is the caller');
  });

  test('silence in both directions is neither echo nor caller', () => {
    const { frames } = judge(silence(2000, RATE), undefined);
    assert.ok(frames.every((f) => !f.verdict.callerLikely && !f.verdict.echoLikely && f.verdict.inboundDb === -100));
  });

  test('inbound frames read together after a stall are judged on their own 20 ms clock', async () => {
    const detector = new EchoDetector();
    const path = new EchoPath({ delayMs: 100, gainDb: -10 }, RATE);
    const out = toFrames(await botSpeech(), RATE);
    let caller = 0;
    for (let k = 0; k < out.length; k++) {
      detector.outbound(out[k]!, RATE, k * 20);
      path.played(out[k]!, RATE, k * 20);
      const inbound = path.mix(silenceFrame(RATE), k * 20 + 20);
      // Every second the reader stalls 80 ms: four frames are read at its end.
      const arrived = k * 20 + 20;
      const read = arrived % 1000 < 80 ? arrived - (arrived % 1000) + 80 : arrived;
      if (detector.inbound(inbound, RATE, read).callerLikely) caller++;
    }
    assert.equal(caller, 0);
  });

  test('a delay range out of bounds is refused', () => {
    assert.throws(() => new EchoDetector({ maxDelayMs: -1 }), RangeError);
    assert.throws(() => new EchoDetector({ maxDelayMs: 5000 }), RangeError);
  });
});
