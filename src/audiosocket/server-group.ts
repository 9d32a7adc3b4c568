/** Several AudioSocket listeners (the main port and agents' own ports) seen as one server. */
import type { AudioSocketCall, AudioSocketServer, AudioSocketStats } from './server.js';

/** What the drain, the metrics and readiness need of the servers together. */
export interface ServerGroup {
  readonly activeCalls: number;
  calls(): AudioSocketCall[];
  readonly stats: Readonly<AudioSocketStats>;
  stopAccepting(): Promise<void>;
  close(): Promise<void>;
}

/** One view over `servers`: calls and counters are summed, stopping and closing reach all. */
export function groupServers(servers: readonly AudioSocketServer[]): ServerGroup {
  return {
    get activeCalls() {
      return servers.reduce((n, s) => n + s.activeCalls, 0);
    },
    calls: () => servers.flatMap((s) => s.calls()),
    get stats() {
      return servers.map((s) => s.stats).reduce(addStats);
    },
    stopAccepting: async () => {
      await Promise.all(servers.map((s) => s.stopAccepting()));
    },
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

function addStats(a: Readonly<AudioSocketStats>, b: Readonly<AudioSocketStats>): AudioSocketStats {
  const sum = { ...a, refused: { ...a.refused } } as AudioSocketStats;
  for (const key of Object.keys(b) as (keyof AudioSocketStats)[]) {
    if (key === 'refused') for (const [reason, n] of Object.entries(b.refused)) sum.refused[reason as keyof AudioSocketStats['refused']] += n;
    else (sum[key] as number) += b[key] as number;
  }
  return sum;
}
