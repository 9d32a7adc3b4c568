import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { EnvReader } from '../config/env-reader.js';
import { silentLogger, type Logger } from '../logger.js';
import { createAllowlist } from './allowlist.js';
import { Connection, type AudioSocketCall, type ConnectionCounters, type EndReason } from './call.js';
import { readAudioSocketConfig, type AudioSocketConfig } from './config.js';
import { createRejectionLog, type RejectionLog } from './rejection-log.js';

export type { AudioSocketCall, EndReason } from './call.js';

/** Runs one call; a throw or rejection is logged and hangs up that call only. */
export type CallHandler = (call: AudioSocketCall) => void | Promise<void>;

/** Why a connection was refused before it was read. */
export type RefuseReason = 'allowlist' | 'capacity' | 'draining';

/** Server counters; playout counters include calls already ended. */
export interface AudioSocketStats {
  accepted: number;
  refused: Record<RefuseReason, number>;
  handshakeFailures: number;
  protocolErrors: number;
  idleTimeouts: number;
  /** Calls ended because the peer stopped reading. */
  writeTimeouts: number;
  handlerErrors: number;
  framesIn: number;
  framesOut: number;
  underruns: number;
  backpressureSkips: number;
  reanchors: number;
}

/** Events: a call established (UUID read), a call ended. */
export interface AudioSocketServerEvents {
  call: [call: AudioSocketCall];
  callEnd: [call: AudioSocketCall, reason: EndReason];
}

/** The AudioSocket TCP server: one call per connection. */
export interface AudioSocketServer extends EventEmitter<AudioSocketServerEvents> {
  /** Binds host:port from the config; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Established calls that have not ended. */
  readonly activeCalls: number;
  calls(): AudioSocketCall[];
  readonly stats: Readonly<AudioSocketStats>;
  /** True until `stopAccepting()` or `close()`. */
  readonly accepting: boolean;
  /** Closes the listener; existing calls continue, new connections are refused. */
  stopAccepting(): Promise<void>;
  /** Stops accepting, hangs up every call and resolves when every socket is closed. */
  close(): Promise<void>;
}

/** Options of `createAudioSocketServer`; config fields not given take their defaults. */
export interface AudioSocketServerOptions {
  config?: Partial<AudioSocketConfig>;
  log?: Logger;
  onCall: CallHandler;
}

/** The AudioSocket defaults, as if no AUDIOSOCKET_* variable were set. */
export function defaultAudioSocketConfig(): AudioSocketConfig {
  return readAudioSocketConfig(new EnvReader({}));
}

class TcpAudioSocketServer extends EventEmitter<AudioSocketServerEvents> implements AudioSocketServer {
  readonly #config: AudioSocketConfig;
  readonly #log: Logger;
  readonly #onCall: CallHandler;
  readonly #allowed: (address: string | undefined) => boolean;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #rejections: RejectionLog;
  readonly #counters: ConnectionCounters & { accepted: number; handlerErrors: number; refused: Record<RefuseReason, number> } = {
    accepted: 0,
    refused: { allowlist: 0, capacity: 0, draining: 0 },
    handshakeFailures: 0,
    protocolErrors: 0,
    idleTimeouts: 0,
    writeTimeouts: 0,
    handlerErrors: 0,
    framesIn: 0,
    framesOut: 0,
  };
  readonly #endedPlayout = { underruns: 0, backpressureSkips: 0, reanchors: 0 };
  #closeWaiters: (() => void)[] = [];
  #accepting = true;
  #listening = false;

  constructor(options: AudioSocketServerOptions) {
    super();
    this.#config = { ...defaultAudioSocketConfig(), ...options.config };
    this.#log = options.log ?? silentLogger();
    this.#onCall = options.onCall;
    this.#allowed = createAllowlist(this.#config.allow);
    this.#rejections = createRejectionLog(this.#log);
    this.#server = createServer((socket) => this.#onConnection(socket));
    this.#server.on('error', (err) => this.#log.error({ err }, 'audiosocket server error'));
  }

  get activeCalls(): number {
    let n = 0;
    for (const conn of this.#connections) if (conn.established && !conn.ended) n++;
    return n;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  calls(): AudioSocketCall[] {
    return [...this.#connections].filter((c) => c.established && !c.ended);
  }

  get stats(): Readonly<AudioSocketStats> {
    const live = { ...this.#endedPlayout };
    for (const conn of this.#connections) {
      live.underruns += conn.playout.stats.underruns;
      live.backpressureSkips += conn.playout.stats.backpressureSkips;
      live.reanchors += conn.playout.stats.reanchors;
    }
    return { ...this.#counters, refused: { ...this.#counters.refused }, ...live };
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#config.port, this.#config.host, () => {
        this.#server.off('error', onError);
        this.#listening = true;
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  stopAccepting(): Promise<void> {
    this.#accepting = false;
    if (!this.#listening) return Promise.resolve();
    this.#listening = false;
    // net.Server.close() stops listening at once but calls back only after every connection has
    // closed; existing calls go on, so do not wait for that.
    this.#server.close();
    return Promise.resolve();
  }

  async close(): Promise<void> {
    const stopped = this.stopAccepting();
    for (const conn of this.#connections) conn.shutdown();
    if (this.#connections.size > 0) await new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    await stopped;
    this.#rejections.close();
  }

  #onConnection(socket: Socket): void {
    const remote = socket.remoteAddress;
    let refusal: RefuseReason | undefined;
    if (!this.#accepting) refusal = 'draining';
    else if (!this.#allowed(remote)) refusal = 'allowlist';
    else if (this.#connections.size >= this.#config.maxCalls) refusal = 'capacity';
    if (refusal !== undefined) {
      this.#counters.refused[refusal]++;
      this.#rejections.rejected({ remote, reason: refusal });
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.#counters.accepted++;
    const conn = new Connection(socket, {
      maxPayloadBytes: this.#config.maxPayloadBytes,
      idleTimeoutMs: this.#config.idleTimeoutMs,
      handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      formatWaitMs: this.#config.formatWaitMs,
      writeTimeoutMs: this.#config.writeTimeoutMs,
      log: this.#log,
      counters: this.#counters,
      onRejected: (rejection) => this.#rejections.rejected(rejection),
      onCall: (call) => this.#startCall(call),
      onClosed: (c) => this.#onClosed(c),
    });
    this.#connections.add(conn);
  }

  #startCall(call: Connection): void {
    call.once('end', (reason) => this.emit('callEnd', call, reason));
    this.emit('call', call);
    const fail = (err: unknown): void => {
      if (call.ended) return;
      this.#counters.handlerErrors++;
      call.log.error({ err }, 'call handler failed');
      call.hangUp('handler_error');
    };
    try {
      const result = this.#onCall(call);
      if (result && typeof result.then === 'function') result.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  }

  #onClosed(conn: Connection): void {
    if (!this.#connections.delete(conn)) return;
    this.#endedPlayout.underruns += conn.playout.stats.underruns;
    this.#endedPlayout.backpressureSkips += conn.playout.stats.backpressureSkips;
    this.#endedPlayout.reanchors += conn.playout.stats.reanchors;
    if (this.#connections.size === 0) {
      const waiters = this.#closeWaiters;
      this.#closeWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

/** Creates the AudioSocket server; nothing listens until `listen()`. */
export function createAudioSocketServer(options: AudioSocketServerOptions): AudioSocketServer {
  return new TcpAudioSocketServer(options);
}
