import type { AudioSocketCall } from '../audiosocket/call.js';
import { pcmBytes, pcmDurationMs } from '../audio/pcm.js';
import { EnergyVad } from '../audio/vad.js';
import type { CallConfig } from './config.js';

/** Audio kept from before the VAD fired, so the first syllable is not cut, ms. */
const PRE_ROLL_MS = 200;

/**
 * The built-in pipeline used until the providers exist: after the caller stops talking, play
 * their last utterance back (capped at `echoMaxMs`). End of speech is timed by audio and, when
 * the peer stops sending frames, by the clock.
 */
export function createEchoHandler(
  config: Pick<CallConfig, 'vadThreshold' | 'endOfSpeechMs' | 'echoMaxMs'>,
): (call: AudioSocketCall) => void {
  return function echo(call: AudioSocketCall): void {
    // Listen at once: the first frames can arrive in the same TCP chunk as the UUID.
    let sampleRate = 8000;
    const vad = new EnergyVad({ threshold: config.vadThreshold, hangoverMs: config.endOfSpeechMs });
    let frames: Buffer[] = [];
    let bytes = 0;
    let utterances = 0;
    let clock: NodeJS.Timeout | undefined;

    const maxBytes = (): number => pcmBytes(config.echoMaxMs, sampleRate);
    const preRollBytes = (): number => pcmBytes(PRE_ROLL_MS, sampleRate);

    const flush = (): void => {
      clearTimeout(clock);
      clock = undefined;
      vad.reset();
      if (call.signal.aborted || bytes === 0) return;
      const tag = `echo-${++utterances}`;
      const pcm = Buffer.concat(frames);
      frames = [];
      bytes = 0;
      call.log.debug({ tag, ms: Math.round(pcmDurationMs(pcm.length, sampleRate)) }, 'echo utterance');
      call.playout.enqueue(pcm, tag, sampleRate);
    };

    call.on('audio', (pcm) => {
      sampleRate = call.currentFormat?.sampleRate ?? sampleRate;
      frames.push(pcm);
      bytes += pcm.length;
      const event = vad.push(pcm, sampleRate);
      if (!vad.speaking && event !== 'end') {
        // Outside speech keep only the pre-roll.
        while (frames.length > 1 && bytes - frames[0]!.length >= preRollBytes()) bytes -= frames.shift()!.length;
        return;
      }
      while (bytes > maxBytes() && frames.length > 1) bytes -= frames.shift()!.length;
      if (event === 'end') {
        flush();
        return;
      }
      // Frames may stop while the caller is silent: time the end of speech by the clock too.
      if (clock) clock.refresh();
      else clock = setTimeout(flush, config.endOfSpeechMs + 100);
    });
    call.signal.addEventListener('abort', () => clearTimeout(clock), { once: true });
  };
}
