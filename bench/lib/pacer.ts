/** The baseline: a bare Node TCP server that paces 20 ms silence frames per connection and nothing else. */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { performance } from 'node:perf_hooks';

const FRAME_MS = 20;

/** Starts the pacer on 127.0.0.1 (port 0 = any); each connection gets 0x10 silence every 20 ms. */
export async function startPacer(port = 0): Promise<{ server: Server; port: number }> {
  // One prebuilt frame: kind 0x10, length 320 big-endian, 320 zero bytes.
  const frame = Buffer.alloc(3 + 320);
  frame[0] = 0x10;
  frame.writeUInt16BE(320, 1);
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', () => {});
    socket.on('error', () => {});
    let next = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const tick = (): void => {
      const now = performance.now();
      socket.write(frame);
      next += FRAME_MS;
      if (now - next > FRAME_MS) next = now + FRAME_MS;
      timer = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    socket.on('close', () => clearTimeout(timer));
    tick();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
