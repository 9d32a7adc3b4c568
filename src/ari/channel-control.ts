import { isAbortError, VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ariStatusOf, type AriClient } from './client.js';
import type { GlobalCleanup } from './global-cleanup.js';
import { canonicalCallId, channelGlobalName, isDialplanSafeDestination, transferGlobalName } from './variables.js';

/** Call control for one call's caller channel; inert once detached. */
export interface ChannelControl {
  /** The caller's ARI channel id, read once from the dialplan's link and cached. */
  resolveChannel(): Promise<string | undefined>;
  /** Whether the caller's channel still exists (a 404 is a normal false). */
  exists(): Promise<boolean>;
  /** Hangs the caller up after checking the channel exists; true when ARI hung it up. */
  hangup(): Promise<boolean>;
  /** Leaves a transfer decision for the dialplan; the caller must then close the AudioSocket. */
  requestTransfer(destination: string): Promise<boolean>;
  /**
   * Ends all ARI traffic for this call's channel: aborts requests in flight, refuses new ones, and
   * hands the call's globals still in Asterisk (a transfer decision, an unread link) to the cleanup.
   */
  detach(): void;
  /** True after `detach()`. */
  readonly detached: boolean;
}

/** What `createChannelControl` needs: the client (undefined when ARI is not configured). */
export interface ChannelControlDeps {
  ari: AriClient | undefined;
  callId: string;
  log: Logger;
  /** Deletes the call's globals some time after the socket closed. */
  globals?: GlobalCleanup;
}

/** Per-call control handle over ARI, built when the AudioSocket call starts. */
export function createChannelControl({ ari, callId, log, globals }: ChannelControlDeps): ChannelControl {
  const id = canonicalCallId(callId);
  const lifetime = new AbortController();
  let resolving: Promise<string | undefined> | undefined;
  let failureLogged = false;
  // A channel that has gone never comes back: later operations need no request.
  let gone = false;
  // Whether the dialplan's link is known to be out of Asterisk (deleted here, or never set).
  let linkSettled = false;
  let decisionLeft = false;

  const enabled = ari !== undefined && id !== undefined;
  if (ari !== undefined && id === undefined) log.warn({ callId }, 'call id is not a UUID; call control disabled');

  const detached = () => lifetime.signal.aborted;

  function failed(operation: string, err: unknown): void {
    if (isAbortError(err) || detached()) return;
    const fields = {
      operation,
      code: err instanceof VoicebotError ? err.code : 'unknown',
      status: ariStatusOf(err),
      reason: err instanceof Error ? err.message : String(err),
    };
    if (failureLogged) {
      log.debug(fields, 'call control request failed');
    } else {
      failureLogged = true;
      log.warn(fields, 'call control request failed');
    }
  }

  async function resolveOnce(client: AriClient, uuid: string): Promise<string | undefined> {
    const name = channelGlobalName(uuid);
    const channelId = await client.getVariable(name, undefined, lifetime.signal);
    if (channelId === undefined) {
      linkSettled = true;
      log.debug({ variable: name }, 'call not linked to a channel by the dialplan');
      return undefined;
    }
    log.debug({ channelId }, 'caller channel resolved');
    if (!detached()) {
      // The link is consumed: deleting it here leaves nothing behind in Asterisk's globals.
      try {
        await client.deleteGlobalVariable(name, lifetime.signal);
        linkSettled = true;
      } catch (err) {
        // The cleanup deletes it after the call.
        if (!isAbortError(err)) log.debug({ err }, 'channel link not deleted');
      }
    }
    return channelId;
  }

  function resolveChannel(): Promise<string | undefined> {
    if (!enabled || detached()) return Promise.resolve(undefined);
    resolving ??= resolveOnce(ari, id).catch((err: unknown) => {
      failed('resolve', err);
      resolving = undefined;
      return undefined;
    });
    return resolving;
  }

  async function existingChannel(operation: string): Promise<string | undefined> {
    const channelId = await resolveChannel();
    if (channelId === undefined || gone || detached() || ari === undefined) return undefined;
    try {
      const found = await ari.channelExists(channelId, lifetime.signal);
      if (!found) {
        gone = true;
        log.debug({ channelId, operation }, 'caller channel is gone');
      }
      return found && !detached() ? channelId : undefined;
    } catch (err) {
      failed('exists', err);
      return undefined;
    }
  }

  return {
    resolveChannel,

    async exists() {
      return (await existingChannel('exists')) !== undefined;
    },

    async hangup() {
      const channelId = await existingChannel('hangup');
      if (channelId === undefined || ari === undefined) return false;
      try {
        const done = await ari.hangup(channelId, lifetime.signal);
        gone = true;
        if (done) log.info({ channelId }, 'caller hung up through ari');
        else log.debug({ channelId }, 'caller channel already gone');
        return done;
      } catch (err) {
        failed('hangup', err);
        return false;
      }
    },

    async requestTransfer(destination) {
      if (!enabled || detached()) return false;
      if (!isDialplanSafeDestination(destination)) {
        log.warn({ destination }, 'transfer destination refused: not a plain extension name');
        return false;
      }
      const channelId = await existingChannel('transfer');
      if (channelId === undefined || ari === undefined || id === undefined) return false;
      try {
        // Counted before the answer: a request that fails late may still have set it.
        decisionLeft = true;
        await ari.setGlobalVariable(transferGlobalName(id), destination, lifetime.signal);
        if (detached()) return false;
        log.info({ channelId, destination }, 'transfer decision left for the dialplan');
        return true;
      } catch (err) {
        failed('transfer', err);
        return false;
      }
    },

    detach() {
      if (detached()) return;
      lifetime.abort();
      if (ari === undefined || id === undefined || globals === undefined) return;
      const left = [...(decisionLeft ? [transferGlobalName(id)] : []), ...(linkSettled ? [] : [channelGlobalName(id)])];
      globals.schedule(left);
    },

    get detached() {
      return detached();
    },
  };
}
