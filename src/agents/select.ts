import { loadPromptFile } from '../tts/prompt-file.js';
import { renderPrompt } from './placeholders.js';
import type { AgentSettings, ResolvedAgents } from './settings.js';

/** The agent a name picks (exact, then any case), else the default one; `matched` tells which. */
export function selectAgent(agents: ResolvedAgents, name: string | undefined): { agent: AgentSettings; matched: boolean } {
  const wanted = name?.trim();
  if (wanted !== undefined && wanted !== '') {
    const exact = agents.agents.get(wanted);
    if (exact !== undefined) return { agent: exact, matched: true };
    const key = wanted.toLowerCase();
    for (const agent of agents.agents.values()) if (agent.name.toLowerCase() === key) return { agent, matched: true };
  }
  return { agent: agents.agents.get(agents.defaultAgent) as AgentSettings, matched: false };
}

/** The agent an extra AudioSocket port serves, if the port is one. */
export function agentForPort(agents: ResolvedAgents, port: number): AgentSettings | undefined {
  const name = agents.ports.get(port);
  return name === undefined ? undefined : agents.agents.get(name);
}

/** What a call tells its prompt (a `CallContext` is one). */
export interface CallFacts {
  callerNumber?: string | undefined;
  callerName?: string | undefined;
  dialed?: string | undefined;
  variables?: Readonly<Record<string, string>>;
}

/** The agent's system prompt for one call, its placeholders filled from the call's context. */
export function promptForCall(agent: AgentSettings, call: CallFacts, now = new Date()): string {
  return renderPrompt(agent.promptTemplate, {
    agent: agent.name,
    language: agent.language,
    timezone: agent.timezone,
    now,
    callerNumber: call.callerNumber,
    callerName: call.callerName,
    dialed: call.dialed,
    variables: call.variables ?? {},
  });
}

const otherRates = new WeakMap<AgentSettings, Map<number, Promise<Buffer>>>();

/** The agent's greeting audio at any rate: decoded at load for 8/16 kHz, on first use for others. */
export function greetingAudioFor(agent: AgentSettings): ((sampleRate: number) => Promise<Buffer>) | undefined {
  const file = agent.conversation.greetingFile;
  const loaded = agent.greetingAudio;
  if (file === undefined || loaded === undefined) return undefined;
  return (sampleRate) => {
    const ready = loaded.get(sampleRate);
    if (ready !== undefined) return Promise.resolve(ready);
    let byRate = otherRates.get(agent);
    if (byRate === undefined) otherRates.set(agent, (byRate = new Map()));
    let pcm = byRate.get(sampleRate);
    if (pcm === undefined) byRate.set(sampleRate, (pcm = loadPromptFile(file, sampleRate)));
    return pcm;
  };
}
