import { VoicebotError } from '../errors.js';

/** One thing wrong with the agents file: which agent, which field, and why. */
export interface AgentProblem {
  /** The agent's name (or `agents[i]` when it has none); undefined for top-level fields. */
  agent: string | undefined;
  /** Dotted field path inside the agent (or the file, for top-level problems). */
  path: string;
  message: string;
}

/** One `config_invalid` error listing every problem; the list travels in `cause.problems`. */
export function agentsError(source: string, problems: readonly AgentProblem[]): VoicebotError {
  const lines = problems.map(formatProblem);
  return new VoicebotError('config_invalid', `invalid agents file ${source}:\n  ${lines.join('\n  ')}`, {
    cause: { problems: [...problems] },
  });
}

/** The problems carried by an `agentsError`, or undefined for any other error. */
export function agentProblemsOf(err: unknown): AgentProblem[] | undefined {
  if (!(err instanceof VoicebotError) || err.code !== 'config_invalid') return undefined;
  const problems = (err.cause as { problems?: unknown } | undefined)?.problems;
  return Array.isArray(problems) ? (problems as AgentProblem[]) : undefined;
}

/** `agent "sales": tts.voice: why`, or `default: why` for a top-level field. */
export function formatProblem(problem: AgentProblem): string {
  const where = problem.path === '' ? '' : `${problem.path}: `;
  if (problem.agent === undefined) return `${where}${problem.message}`;
  const agent = /^agents\[\d+\]$/.test(problem.agent) ? problem.agent : `agent "${problem.agent}"`;
  return `${agent}: ${where}${problem.message}`;
}
