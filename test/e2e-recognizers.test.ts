import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { runCall } from '../src/sim/run-call.js';
import { closeChannels, startStack, type Stack, type StackOptions } from './support/stack.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);

after(() => closeChannels());

const QUICK = { GREETING_TEXT: 'Hello.', BOT_LANGUAGE: 'en' };
const SAID = 'what is the status of my order';
const REPLY = 'It ships tomorrow.';

/** What the recognizer's fake received on its first stream: the declared rate and the audio bytes. */
interface Heard {
  sampleRate: number | undefined;
  bytes: number;
}

const providers: { asr: NonNullable<StackOptions['asr']>; rate: 8000 | 16000; options: StackOptions; heard(stack: Stack): Heard }[] = [
  {
    asr: 'yandex',
    rate: 16000,
    options: { stt: { finalText: () => SAID, eouSilenceMs: 800 } },
    heard: (stack) => {
      const session = stack.stt.sessions[0];
      return { sampleRate: session?.options?.recognition_model.audio_format.raw_audio.sample_rate_hertz, bytes: session?.bytes ?? 0 };
    },
  },
  {
    asr: 'vosk',
    rate: 8000,
    options: { vosk: { finalText: () => SAID, eouSilenceMs: 800 } },
    heard: (stack) => ({ sampleRate: stack.vosk!.connections[0]?.sampleRate, bytes: stack.vosk!.connections[0]?.bytes ?? 0 }),
  },
  {
    asr: 'deepgram',
    rate: 16000,
    options: { deepgram: { finalText: () => SAID, eouSilenceMs: 800 } },
    heard: (stack) => {
      const connection = stack.deepgram!.connections[0];
      return { sampleRate: connection === undefined ? undefined : Number(connection.query.sample_rate), bytes: connection?.bytes ?? 0 };
    },
  },
];

describe('every recognizer end to end', { concurrency: true }, () => {
  for (const provider of providers) {
    test(`${provider.asr}: the caller's utterance reaches the model as text and the reply is heard`, async () => {
      const stack = await startStack({
        ...provider.options,
        asr: provider.asr,
        llm: { script: [{ text: REPLY }] },
        tts: { msPerChar: 15 },
        env: QUICK,
      });
      try {
        const order = await audio(`en-order-${provider.rate / 1000}k.wav`);
        // Generous: the call itself lasts about 6 s, a loaded machine stretches it.
        const summary = stack.nextSummary(45_000);
        const report = await runCall({
          port: stack.port,
          sampleRate: provider.rate,
          turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 600 }],
          replyEndSilenceMs: 400,
        });
        assert.equal(report.error, undefined);
        assert.ok(report.turns[0]?.latencyMs !== undefined, 'no reply was heard');

        const heard = provider.heard(stack);
        assert.equal(heard.sampleRate, provider.rate, 'the recognizer was told another rate');
        assert.ok(heard.bytes >= order.pcm.length, `the recognizer got ${heard.bytes} bytes for a ${order.pcm.length}-byte utterance`);

        // A loaded machine may see a retry of the model request: each one carries what was said.
        assert.ok(stack.llm.requests.length >= 1, 'the model was never asked');
        for (const request of stack.llm.requests) assert.equal(request.body.messages.at(-1).content, SAID);
        assert.ok(stack.tts.requests.some((r) => r.text === REPLY), 'the reply was not synthesized');
        const done = await summary;
        assert.equal(done.outcome, 'caller_hangup');
        const transcript = done.transcript.map((t) => `${t.role}: ${t.text}`);
        assert.ok(transcript.includes(`caller: ${SAID}`) && transcript.includes(`bot: ${REPLY}`), transcript.join(' | '));
      } finally {
        await stack.close();
      }
    });
  }
});
