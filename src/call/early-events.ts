/** What a call says before its conversation listens: held, then handed over in order. */
import type { AudioSocketCall } from '../audiosocket/call.js';

/** Caller audio and digits that arrived before the conversation started (while its agent was chosen). */
export type EarlyEvent = { type: 'audio'; pcm: Buffer } | { type: 'dtmf'; digit: string };

/** Keeps a call's audio and digits until `take()`, so nothing is lost before the conversation listens. */
export function holdEarlyEvents(call: AudioSocketCall): { take(): EarlyEvent[] } {
  const held: EarlyEvent[] = [];
  const onAudio = (pcm: Buffer) => held.push({ type: 'audio', pcm });
  const onDtmf = (digit: string) => held.push({ type: 'dtmf', digit });
  call.on('audio', onAudio);
  call.on('dtmf', onDtmf);
  return {
    take() {
      call.off('audio', onAudio);
      call.off('dtmf', onDtmf);
      return held;
    },
  };
}
