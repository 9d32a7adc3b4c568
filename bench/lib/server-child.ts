/**
 * Child-process entry for the transport benchmark: runs the echo AudioSocket server or the bare
 * pacer (argv[2]: 'echo' | 'pacer') and answers usage requests over IPC.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createAudioSocketServer, type AudioSocketServer } from '../../src/audiosocket/server.js';
import { createEchoHandler } from '../../src/call/echo.js';
import { silentLogger } from '../../src/logger.js';
import { startPacer } from './pacer.js';
import { lateMs, LOOP_SAMPLE_MS } from './loop-lag.js';

/** Messages the parent sends. */
export type ChildRequest = { type: 'usage' } | { type: 'exit' };

/** Messages the child sends. */
export type ChildReply =
  | { type: 'ready'; port: number }
  | {
      type: 'usage';
      cpuUserUs: number;
      cpuSystemUs: number;
      atMs: number;
      rssBytes: number;
      /** Event-loop delay since the previous usage request. */
      loopP99Ms: number;
      loopMaxMs: number;
      stats?: Record<string, unknown>;
    };

const target = process.argv[2];
let echo: AudioSocketServer | undefined;
let port: number;
if (target === 'echo') {
  echo = createAudioSocketServer({
    config: { host: '127.0.0.1', port: 0, maxCalls: 100_000, idleTimeoutMs: 120_000 },
    log: silentLogger(),
    onCall: createEchoHandler({ vadThreshold: 500, endOfSpeechMs: 600, echoMaxMs: 10_000 }),
  });
  port = (await echo.listen()).port;
} else if (target === 'pacer') {
  port = (await startPacer()).port;
} else {
  process.stderr.write(`server-child: unknown target ${String(target)}\n`);
  process.exit(2);
}

const loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
loop.enable();
const send = (reply: ChildReply): void => void process.send?.(reply);
process.on('message', (request: ChildRequest) => {
  if (request.type === 'usage') {
    const cpu = process.cpuUsage();
    send({
      type: 'usage',
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      atMs: performance.timeOrigin + performance.now(),
      rssBytes: process.memoryUsage.rss(),
      loopP99Ms: lateMs(loop.percentile(99), LOOP_SAMPLE_MS),
      loopMaxMs: lateMs(loop.max, LOOP_SAMPLE_MS),
      ...(echo ? { stats: { ...echo.stats, activeCalls: echo.activeCalls } } : {}),
    });
    loop.reset();
  } else if (request.type === 'exit') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', port });
