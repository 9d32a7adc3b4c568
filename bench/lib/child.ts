/** Runs a benchmark target in a child process so its CPU and memory can be measured alone. */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { ChildReply, ChildRequest } from './server-child.js';

/** A running server child: its port, usage snapshots, and a stop that waits for exit. */
export interface ServerChild {
  port: number;
  pid: number;
  usage(): Promise<Extract<ChildReply, { type: 'usage' }>>;
  stop(): Promise<void>;
}

/** Forks `bench/lib/server-child.ts` with `target` ('echo' or 'pacer'), with extra Node flags, optionally CPU-profiled, and waits until it listens. */
export async function startServerChild(target: 'echo' | 'pacer', profileDir?: string, nodeFlags: string[] = []): Promise<ServerChild> {
  const child: ChildProcess = fork(new URL('./server-child.ts', import.meta.url), [target], {
    execArgv: ['--import', 'tsx', ...nodeFlags, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${target} child exited with ${code} before it was ready`)));
    child.once('message', (m: ChildReply) => (m.type === 'ready' ? resolve(m.port) : reject(new Error('unexpected first message'))));
  });
  child.removeAllListeners('exit');
  const request = (r: ChildRequest): void => void child.send(r);
  return {
    port: ready,
    pid: child.pid!,
    usage: () =>
      new Promise((resolve) => {
        const onMessage = (m: ChildReply): void => {
          if (m.type !== 'usage') return;
          child.off('message', onMessage);
          resolve(m);
        };
        child.on('message', onMessage);
        request({ type: 'usage' });
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      request({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
