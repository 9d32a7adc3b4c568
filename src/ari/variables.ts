/**
 * Names shared with the dialplan in asterisk-config/extensions.conf. The dialplan links a call
 * to its channel with a global variable and reads the transfer decision from another one,
 * because ARI cannot set variables on (or redirect) a channel that is not in Stasis.
 */

/** Channel variable holding the AudioSocket UUID of the call. */
export const UUID_VARIABLE = 'VOICEBOT_UUID';

/** Prefix of the global the dialplan sets to the caller's channel id (its UNIQUEID). */
export const CHANNEL_GLOBAL_PREFIX = 'VOICEBOT_CHAN_';

/** Prefix of the global the server sets to the transfer destination before closing the socket. */
export const TRANSFER_GLOBAL_PREFIX = 'VOICEBOT_XFER_';

/** Dialplan context whose extensions are the only places a transfer can go. */
export const TRANSFER_CONTEXT = 'voicebot-transfer';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Characters a destination may hold; the dialplan passes the decision through FILTER(<these>,…). */
export const DESTINATION_FILTER = '0-9A-Za-z_+';

// The same set as a regular expression class; a leading "_" would make the name a pattern.
const DESTINATION = new RegExp(`^[0-9A-Za-z+][${DESTINATION_FILTER}]{0,63}$`);

/** The call id in the form Asterisk's UUID() prints (lower case), or undefined if it is no UUID. */
export function canonicalCallId(callId: string): string | undefined {
  const lower = callId.trim().toLowerCase();
  return CANONICAL_UUID.test(lower) ? lower : undefined;
}

/** Name of the global that links the call to the caller's channel id. */
export function channelGlobalName(callId: string): string {
  return `${CHANNEL_GLOBAL_PREFIX}${callId.toLowerCase()}`;
}

/** Name of the global that carries the call's transfer destination to the dialplan. */
export function transferGlobalName(callId: string): string {
  return `${TRANSFER_GLOBAL_PREFIX}${callId.toLowerCase()}`;
}

/** Whether a destination can pass through the dialplan unchanged (an extension name, no syntax). */
export function isDialplanSafeDestination(destination: string): boolean {
  return DESTINATION.test(destination);
}
