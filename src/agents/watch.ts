import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../logger.js';
import { changedAgents } from './changes.js';
import { agentProblemsOf, formatProblem } from './problems.js';
import type { ResolvedAgents } from './settings.js';

/** What `watchAgents` needs. */
export interface WatchAgentsOptions {
  /** The agents file; its directory is watched, since editors replace files by renaming. */
  path: string;
  /** The agents in use now. */
  initial: ResolvedAgents;
  /** Loads and validates the file (normally `() => loadAgents(config)`). */
  load(): Promise<ResolvedAgents>;
  /** Called with the new agents and the names that changed; awaited before they become current. */
  onChange(agents: ResolvedAgents, changed: readonly string[]): void | Promise<void>;
  log: Logger;
  /** Quiet time after the last file event before reloading. */
  debounceMs?: number;
}

/** A running watch on the agents file. */
export interface AgentsWatcher {
  /** The agents in use: the last good load. */
  current(): ResolvedAgents;
  /** Reloads now, as SIGHUP does; resolves when the reload has been applied or rejected. */
  reload(): Promise<void>;
  /** Stops watching and removes the SIGHUP handler. */
  close(): void;
}

type Trigger = 'file' | 'signal';

/**
 * Reloads the agents on SIGHUP and when the file changes. A file that fails validation keeps the
 * current agents and logs one error listing its problems (once per distinct set of problems
 * for file events; every time on SIGHUP).
 */
export function watchAgents({ path, initial, load, onChange, log, debounceMs = 150 }: WatchAgentsOptions): AgentsWatcher {
  const file = resolve(path);
  const name = basename(file);
  let current = initial;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let pending: Trigger | undefined;
  let lastRejected: string | undefined;

  async function reloadOnce(trigger: Trigger): Promise<void> {
    let next: ResolvedAgents;
    try {
      next = await load();
    } catch (err) {
      if (closed) return;
      const problems = agentProblemsOf(err)?.map(formatProblem) ?? [err instanceof Error ? err.message : String(err)];
      const key = problems.join('\n');
      if (trigger === 'file' && key === lastRejected) return;
      lastRejected = key;
      log.error({ path: file, problems }, 'agents file rejected; the current agents stay');
      return;
    }
    if (closed) return;
    lastRejected = undefined;
    const changed = changedAgents(current, next);
    try {
      await onChange(next, changed);
    } catch (err) {
      log.error({ path: file, err: err instanceof Error ? err.message : String(err) }, 'new agents could not be applied; the current agents stay');
      return;
    }
    current = next;
    log.info({ path: file, agents: [...next.agents.keys()], changed }, 'agents reloaded');
  }

  function run(trigger: Trigger): Promise<void> {
    if (closed) return Promise.resolve();
    if (running !== undefined) {
      if (pending !== 'signal') pending = trigger;
      return running;
    }
    running = (async () => {
      let next: Trigger | undefined = trigger;
      while (next !== undefined && !closed) {
        pending = undefined;
        await reloadOnce(next);
        next = pending;
      }
    })().finally(() => (running = undefined));
    return running;
  }

  const onSignal = (): void => void run('signal');
  process.on('SIGHUP', onSignal);

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), (_event, changed) => {
      // `..data` is how a Kubernetes ConfigMap mount swaps its files in.
      if (changed !== null && changed !== name && !changed.startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(() => void run('file'), debounceMs);
    });
    watcher.on('error', (err) => log.warn({ path: file, err: err.message }, 'agents file no longer watched; SIGHUP still reloads'));
  } catch (err) {
    log.warn({ path: file, err: (err as Error).message }, 'agents file cannot be watched; SIGHUP still reloads');
  }

  return {
    current: () => current,
    reload: () => run('signal'),
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onSignal);
    },
  };
}
