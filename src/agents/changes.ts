import { isDeepStrictEqual } from 'node:util';
import type { ResolvedAgents } from './settings.js';

/** Names of the agents added, removed or changed in any setting (greeting audio included), sorted. */
export function changedAgents(before: ResolvedAgents, after: ResolvedAgents): string[] {
  const names = new Set([...before.agents.keys(), ...after.agents.keys()]);
  return [...names].filter((name) => !isDeepStrictEqual(before.agents.get(name), after.agents.get(name))).sort();
}
