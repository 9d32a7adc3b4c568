/** Which agent answers a call: its port, or the dialplan's VOICEBOT_AGENT read through ARI, or the default. */
import type { ChannelControl } from '../ari/channel-control.js';
import type { AriClient } from '../ari/client.js';
import type { Logger } from '../logger.js';
import { readCallContext, type CallContext } from './call-context.js';
import { selectAgent } from './select.js';
import type { AgentSettings, ResolvedAgents } from './settings.js';

/** The agent of one call and what the call told about itself. */
export interface AgentChoice {
  agent: AgentSettings;
  /** Undefined when nothing could be read (no ARI, no channel link). */
  context: CallContext | undefined;
}

/** What the choice needs; `port` is the AudioSocket port the call came in on. */
export interface ChooseAgentOptions {
  agents: ResolvedAgents;
  port: number | undefined;
  ari: AriClient | undefined;
  channel: Pick<ChannelControl, 'resolveChannel'> | undefined;
  /** The whole choice, channel link included, takes at most this long. */
  timeoutMs: number;
  signal: AbortSignal;
  log: Logger;
}

/**
 * Chooses the call's agent. A call on an agent's own port is that agent's; otherwise the
 * channel's VOICEBOT_AGENT names it. Whatever cannot be read in time (ARI down, slow, no link)
 * gives the default agent. A read cut short by the budget or an unknown name is one warning; a
 * failed ARI request is already the channel control's one warning.
 */
export async function chooseAgent(options: ChooseAgentOptions): Promise<AgentChoice> {
  const { agents, log } = options;
  const byPort = options.port === undefined ? undefined : agents.ports.get(options.port);
  const { context, timedOut } = await readContext(options);
  if (byPort !== undefined) return { agent: agents.agents.get(byPort)!, context };
  const wanted = context?.agent;
  const { agent, matched } = selectAgent(agents, wanted);
  if (wanted !== undefined && !matched) log.warn({ wanted, agent: agent.name }, 'unknown agent named by the dialplan; the default answers');
  else if (agents.agents.size > 1 && timedOut) {
    log.warn({ agent: agent.name }, 'call context not read in time; the default agent answers');
  } else if (agents.agents.size > 1 && context === undefined && options.ari !== undefined) {
    // The channel control has logged why the link was not read: a failed request, or no link set.
    log.debug({ agent: agent.name }, 'call not linked to its channel; the default agent answers');
  } else if (agents.agents.size > 1 && context !== undefined && context.status !== 'complete' && wanted === undefined) {
    log.warn({ agent: agent.name, status: context.status }, 'call context incomplete; the default agent answers');
  }
  return { agent, context };
}

async function readContext(options: ChooseAgentOptions): Promise<{ context: CallContext | undefined; timedOut: boolean }> {
  const { ari, channel, agents } = options;
  if (ari === undefined || channel === undefined) return { context: undefined, timedOut: false };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.timeoutMs)));
  const channelId = await Promise.race([channel.resolveChannel(), timeUp]);
  clearTimeout(timer);
  if (channelId === 'timeout') return { context: undefined, timedOut: true };
  if (channelId === undefined) return { context: undefined, timedOut: false };
  const left = Math.max(0, options.timeoutMs - (performance.now() - started));
  const context = await readCallContext({ ari, channelId, variables: agents.variables, timeoutMs: left, signal: options.signal });
  return { context, timedOut: false };
}
