/** The stages of the two kinds of turn: a model reply, and a fixed phrase. */
import type { Logger } from '../logger.js';
import type { ConversationDeps } from './conversation-deps.js';
import type { Dialogue } from './dialogue.js';
import type { TurnPipeline } from './turn.js';

/** Synthesizers produce 8–48 kHz; audio for a faster wire is resampled by the playout. */
const MAX_SYNTHESIS_RATE = 48_000;

/** The rate to synthesize at now: the wire rate, capped at what synthesizers produce. */
export function synthesisRate(playout: { readonly format: { readonly sampleRate: number } }): number {
  return Math.min(playout.format.sampleRate, MAX_SYNTHESIS_RATE);
}

/** The model's reply to `userText`: deltas → chunks → audio at the rate current as each chunk starts. */
export function replyPipeline(
  userText: string,
  dialogue: Dialogue,
  deps: Pick<ConversationDeps, 'chunks' | 'synthesize'>,
  sampleRate: () => number,
  log: Logger,
): TurnPipeline {
  return {
    deltas: (signal) => dialogue.reply(userText, signal),
    chunks: (deltas) => deps.chunks(deltas),
    audio: (chunks, signal) => deps.synthesize(chunks, sampleRate, signal, log),
  };
}

/** A fixed phrase at `sampleRate`: from an audio file when given, else from the phrase cache, streamed. */
export function phrasePipeline(
  text: string,
  sampleRate: number,
  phrase: ConversationDeps['phrase'],
  audio?: (sampleRate: number) => Promise<Buffer>,
): TurnPipeline {
  return {
    deltas: () => once(text),
    chunks: (deltas) => deltas,
    audio: async function* (chunks, signal) {
      for await (const chunk of chunks) {
        if (audio) yield { index: 0, text: chunk, pcm: await audio(sampleRate), sampleRate, last: true };
        else for await (const pcm of phrase(chunk, sampleRate, signal)) yield { index: 0, text: chunk, pcm, sampleRate, last: false };
      }
    },
  };
}

async function* once(text: string): AsyncIterable<string> {
  yield text;
}
