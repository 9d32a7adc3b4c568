import { createChannelControl } from './ari/channel-control.js';
import type { AriClient } from './ari/client.js';
import { connectAri } from './ari/connect.js';
import { createGlobalCleanup } from './ari/global-cleanup.js';
import { chooseAgent } from './agents/choose.js';
import { loadAgents } from './agents/load.js';
import { createAgentRuntime, ProviderPool, type AgentRuntime, type AgentShared } from './agents/runtime.js';
import { promptForCall } from './agents/select.js';
import type { ResolvedAgents } from './agents/settings.js';
import { watchAgents, type AgentsWatcher } from './agents/watch.js';
import type { App } from './app-contract.js';
import type { CallHandler } from './audiosocket/server.js';
import type { CallSummary } from './call/call-summary.js';
import type { Clock } from './call/clock.js';
import { holdEarlyEvents, runConversation } from './call/conversation.js';
import type { Config } from './config.js';
import { echoApp } from './echo-app.js';
import type { Logger } from './logger.js';
import { noopObserver, type Observer } from './metrics/observer.js';
import { createMcpPool } from './tools/index.js';

export type { App };

/** A recognizer that failed a call for good counts as down for this long, then calls try again. */
const PROVIDER_DOWN_MS = 30_000;

/** Builds the per-call pipelines from the configuration and the agents file. */
export async function createApp(
  config: Config,
  log: Logger,
  options: { observer?: Observer; onCallEnd?: (summary: CallSummary) => void; clock?: Clock } = {},
): Promise<App> {
  const observer = options.observer ?? noopObserver;
  // A bad agents file is a start-up error listing every problem.
  const initial = await loadAgents(config);
  const shared: AgentShared = {
    yandex: config.yandex,
    call: config.call,
    echoGuard: config.echoGuard,
    observer,
    log,
    providers: new ProviderPool(),
    mcp: createMcpPool({ log: log.child({ component: 'mcp' }) }),
    // No tool reaches ARI or this server's own HTTP port unless it says allowInternal.
    deniedOrigins: [...(config.ari.url !== undefined ? [config.ari.url] : []), `${config.ops.httpHost}:${config.ops.httpPort}`],
  };
  let agents: ResolvedAgents = initial;
  let runtimes = buildRuntimes(initial, shared, [...initial.agents.keys()]);
  const defaultRuntime = (): AgentRuntime => runtimes.get(agents.defaultAgent)!;

  const anyRecognizer = [...runtimes.values()].some((r) => r.asr !== undefined);
  const mode = config.conversation.pipeline === 'auto' ? (anyRecognizer ? 'conversation' : 'echo') : config.conversation.pipeline;
  if (mode === 'echo' || !anyRecognizer) {
    if (mode === 'conversation') log.warn('PIPELINE=conversation needs ASR_PROVIDER; answering with the echo');
    else log.info('no speech recognizer configured (ASR_PROVIDER); answering with the echo');
    return echoApp(config, defaultRuntime().cache, log);
  }
  // The echo has a greeting of its own: the agents' lines are synthesized only for conversations.
  const greetingsReady = Promise.all([...runtimes.values()].map((r) => r.warm().greeting)).then(() => undefined);

  const ari: AriClient | undefined = await connectAri(config.ari, log.child({ component: 'ari' }));
  const globals = ari && createGlobalCleanup({ ari, delayMs: config.ari.cleanupDelayMs, log: log.child({ component: 'ari' }) });
  let watcher: AgentsWatcher | undefined;
  if (config.agents.file !== undefined) {
    watcher = watchAgents({
      path: config.agents.file,
      initial,
      load: () => loadAgents(config),
      log: log.child({ component: 'agents' }),
      // New and changed agents are warmed before they take calls; calls in progress keep theirs.
      onChange: async (next, changed) => {
        const fresh = buildRuntimes(next, shared, changed.filter((name) => next.agents.has(name)));
        await Promise.all([...fresh.values()].map((r) => r.warm().all));
        const merged = new Map<string, AgentRuntime>();
        for (const name of next.agents.keys()) merged.set(name, fresh.get(name) ?? runtimes.get(name)!);
        runtimes = merged;
        agents = next;
      },
    });
  }

  let asrDown: { code: string; at: number } | undefined;
  const recognizerHealth = {
    ok: () => (asrDown = undefined),
    failed: (code: string) => (asrDown = { code, at: Date.now() }),
  };
  const sessions = new Map<string, { goodbye(): Promise<void> }>();

  const answer = (port: number | undefined): CallHandler => async (call) => {
    const early = holdEarlyEvents(call);
    const channel = ari !== undefined ? createChannelControl({ ari, callId: call.id, log: call.log, globals }) : undefined;
    const { agent, context } = await chooseAgent({
      agents,
      port,
      ari,
      channel,
      timeoutMs: config.agents.contextTimeoutMs,
      signal: call.signal,
      log: call.log,
    });
    const runtime = runtimes.get(agent.name) ?? defaultRuntime();
    const callLog = call.log.child({ agent: agent.name });
    if (call.signal.aborted) {
      early.take();
      channel?.detach();
      return;
    }
    const facts = { callerNumber: context?.callerNumber, callerName: context?.callerName, dialed: context?.dialed, variables: context?.variables ?? {} };
    callLog.debug({ callerNumber: facts.callerNumber, dialed: facts.dialed }, 'agent chosen');
    await runConversation(
      call,
      {
        ...runtime.deps(promptForCall(agent, facts)),
        log: callLog,
        observer: { ...observer, callEnded: (outcome) => observer.callEnded(outcome, agent.name) },
        recognizerHealth,
        ...(options.clock !== undefined ? { clock: options.clock } : {}),
        ...(channel !== undefined ? { channelControl: () => channel } : {}),
        ...(options.onCallEnd
          ? {
              onCallEnd: (summary: CallSummary) =>
                options.onCallEnd!({
                  ...summary,
                  agent: agent.name,
                  ...(facts.callerNumber !== undefined ? { callerNumber: facts.callerNumber } : {}),
                  ...(facts.dialed !== undefined ? { dialed: facts.dialed } : {}),
                }),
            }
          : {}),
      },
      (session) => sessions.set(call.id, session),
      early.take(),
    );
    sessions.delete(call.id);
  };

  return {
    mode: 'conversation',
    greetingsReady,
    onCall: answer(undefined),
    agentPorts: [...initial.ports.keys()],
    onCallAt: (port) => answer(port),
    close: async () => {
      watcher?.close();
      await Promise.all([...runtimes.values()].map((r) => r.close()));
      await shared.mcp.close();
      await globals?.close();
    },
    goodbye: async (call) => {
      const session = sessions.get(call.id);
      if (session) await session.goodbye();
      else call.hangUp('server_closed');
    },
    readiness: () => {
      if (asrDown !== undefined && Date.now() - asrDown.at > PROVIDER_DOWN_MS) asrDown = undefined;
      return asrDown ? { ready: false, reasons: [`speech recognition down (${asrDown.code})`] } : { ready: true, reasons: [] };
    },
  };
}

/** Runtimes for the named agents. */
function buildRuntimes(agents: ResolvedAgents, shared: AgentShared, names: readonly string[]): Map<string, AgentRuntime> {
  return new Map(names.map((name) => [name, createAgentRuntime(agents.agents.get(name)!, shared)]));
}
