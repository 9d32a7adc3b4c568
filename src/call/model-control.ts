/** What the model's hang-up and transfer tools do in a call: they end it after the reply. */
import type { CallControl } from '../llm/llm.js';
import type { Logger } from '../logger.js';
import type { CallOutcome } from './call-summary.js';
import type { CallChannel } from './conversation-deps.js';

/** The call control given to the model: the ending is taken once the current reply has played. */
export function modelControl(deps: { channel: CallChannel | undefined; log: Logger; endAfterReply(outcome: CallOutcome): void }): CallControl {
  const { channel, log } = deps;
  return {
    hangUp: async (reason) => {
      log.info({ reason }, 'model ended the call');
      deps.endAfterReply('bot_hangup');
    },
    transfer: async (destination) => {
      if (!channel) return { ok: false, message: 'Transfer is not available on this line.' };
      const ok = await channel.requestTransfer(destination);
      if (!ok) return { ok: false, message: 'The transfer could not be arranged; the call is no longer reachable.' };
      deps.endAfterReply('transfer');
      return { ok: true, message: `The caller will be transferred to ${destination} after your reply.` };
    },
  };
}
