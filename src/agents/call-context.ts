import { once } from 'node:events';
import type { AriClient } from '../ari/client.js';
import { isAbortError, VoicebotError } from '../errors.js';
import { VARIABLE_NAME } from './placeholders.js';

/** The channel variable in which the dialplan names the call's agent. */
export const AGENT_VARIABLE = 'VOICEBOT_AGENT';

/** What the dialplan and the channel tell about a call; fields are undefined when unknown. */
export interface CallContext {
  /** VOICEBOT_AGENT, as set. */
  agent: string | undefined;
  callerNumber: string | undefined;
  callerName: string | undefined;
  /** The extension the caller dialled (the channel's dialplan position). */
  dialed: string | undefined;
  /** The VOICEBOT_* variables read that are set and not empty. */
  variables: Readonly<Record<string, string>>;
  /** `complete`, or why some of it may be missing. */
  status: 'complete' | 'timeout' | 'aborted' | 'ari_unavailable' | 'ari_failed' | 'channel_not_found';
}

/** What `readCallContext` reads, and how long it may take. */
export interface ReadCallContextOptions {
  ari: AriClient;
  channelId: string;
  /** VOICEBOT_* variables wanted besides VOICEBOT_AGENT; other names are ignored. */
  variables: readonly string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Reads the channel (caller, dialled extension), VOICEBOT_AGENT and the listed variables in
 * parallel. Never throws: on timeout, abort or an ARI fault it returns what had arrived, with
 * the reason in `status`. An unset variable is simply absent.
 */
export async function readCallContext({ ari, channelId, variables, timeoutMs, signal }: ReadCallContextOptions): Promise<CallContext> {
  const deadline = AbortSignal.timeout(Math.max(0, Math.round(timeoutMs)));
  const combined = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
  const names = [...new Set([AGENT_VARIABLE, ...variables.filter((n) => VARIABLE_NAME.test(n))])];
  const values: Record<string, string> = {};
  let channel: Record<string, unknown> | undefined;
  let channelFound: boolean | undefined;
  let failure: VoicebotError | undefined;
  const settle = (task: Promise<void>) =>
    task.catch((err: unknown) => {
      if (!isAbortError(err) && !combined.aborted) failure ??= err instanceof VoicebotError ? err : new VoicebotError('ari_failed', String(err), { cause: err });
    });
  const tasks = [
    settle(ari.getChannel(channelId, combined).then((found) => {
      channelFound = found !== undefined;
      channel = found;
    })),
    ...names.map((name) => settle(ari.getVariable(name, channelId, combined).then((value) => {
      if (value !== undefined) values[name] = value;
    }))),
  ];
  let finished = false;
  const all = Promise.all(tasks).then(() => (finished = true));
  if (!combined.aborted) {
    const stop = new AbortController();
    await Promise.race([all, once(combined, 'abort', { signal: stop.signal }).catch(() => undefined)]);
    stop.abort();
  }

  const caller = channel?.['caller'] as { name?: unknown; number?: unknown } | undefined;
  const dialplan = channel?.['dialplan'] as { exten?: unknown } | undefined;
  const { [AGENT_VARIABLE]: agent } = values;
  return {
    agent: agent?.trim() === '' ? undefined : agent?.trim(),
    callerNumber: nonEmpty(caller?.number),
    callerName: nonEmpty(caller?.name),
    dialed: nonEmpty(dialplan?.exten),
    variables: values,
    status: statusOf(finished, signal?.aborted === true, failure, channelFound),
  };
}

function statusOf(finished: boolean, aborted: boolean, failure: VoicebotError | undefined, channelFound: boolean | undefined): CallContext['status'] {
  if (!finished) return aborted ? 'aborted' : 'timeout';
  if (failure !== undefined) return failure.code === 'ari_unavailable' ? 'ari_unavailable' : 'ari_failed';
  return channelFound === false ? 'channel_not_found' : 'complete';
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}
