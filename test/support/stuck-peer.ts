/**
 * An AudioSocket peer that keeps sending but never reads, with a tiny receive window: the server's
 * kernel send queue fills and its socket stays unwritable. Node cannot set SO_RCVBUF, so the peer
 * is a small python3 process (Debian's python3; .ci/run installs it where missing).
 */
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `
import socket, sys, time, uuid
port, call_id, kind, frame_bytes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
s.connect(('127.0.0.1', port))
s.sendall(bytes([1, 0, 16]) + uuid.UUID(call_id).bytes)
frame = bytes([kind]) + frame_bytes.to_bytes(2, 'big') + bytes(frame_bytes)
print('connected', flush=True)
next_at = time.monotonic()
try:
    while True:
        s.sendall(frame)
        next_at += 0.02
        time.sleep(max(0, next_at - time.monotonic()))
except OSError:
    print('closed', flush=True)
`;

/** A running stuck peer; `closed` resolves when the server ended the connection. */
export interface StuckPeer {
  closed: Promise<void>;
  kill(): void;
}

/** Connects a peer that sends `kind` frames of `frameBytes` every 20 ms and never reads. */
export async function startStuckPeer(port: number, callId: string, kind: number, frameBytes: number): Promise<StuckPeer> {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT, String(port), callId, String(kind), String(frameBytes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  let output = '';
  const closed = new Promise<void>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += String(chunk);
      if (output.includes('closed')) resolve();
    });
    child.once('exit', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.on('data', () => output.includes('connected') && resolve());
    child.once('exit', (code) => reject(new Error(`stuck peer exited early (${code})`)));
  });
  return {
    closed,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
