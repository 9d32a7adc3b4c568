/** gRPC plumbing shared by the Yandex SpeechKit clients: proto loading, one channel per endpoint, auth. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../logger.js';
import type { YandexConfig } from './config.js';

/** A client built from a loaded service definition: methods by their proto names. */
export type ServiceClient = grpc.Client & Record<string, (...args: never[]) => unknown>;

/** Where a client connects: `host:port` and whether the channel uses TLS. */
export interface GrpcTarget {
  endpoint: string;
  tls: boolean;
}

/** Options for @grpc/proto-loader used for every Yandex proto (shared with the fakes in tests). */
export const PROTO_LOAD_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * Keepalive pings keep idle channels usable behind NATs and detect dead peers within seconds.
 * 30 s is above the server's default minimum ping interval, so the server never answers
 * with ENHANCE_YOUR_CALM / too_many_pings.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
  // Retries are ours (reconnect and replay of unfinalized audio); grpc-js's own would keep a
  // copy of every audio message of every call in a retry buffer.
  'grpc.enable_retries': 0,
  // Every call's audio shares one connection: HTTP/2's default 64 KB window would make hundreds of
  // synthesis streams wait on window updates from a busy event loop.
  'grpc-node.flow_control_window': 8 * 1024 * 1024,
};

/** The `proto/` folder of the repository (works from src/ under tsx and from dist/src/). */
export const PROTO_ROOT = findProtoRoot();

function findProtoRoot(): string {
  for (const up of ['../../proto', '../../../proto']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  return fileURLToPath(new URL('../../proto', import.meta.url));
}

const packages = new Map<string, grpc.GrpcObject>();

/** Loads a .proto file under `proto/` (e.g. `yandex/cloud/ai/stt/v3/stt_service.proto`), once per process. */
export function loadProto(file: string): grpc.GrpcObject {
  let loaded = packages.get(file);
  if (loaded === undefined) {
    const definition = protoLoader.loadSync(file, { ...PROTO_LOAD_OPTIONS, includeDirs: [PROTO_ROOT] });
    loaded = grpc.loadPackageDefinition(definition);
    packages.set(file, loaded);
  }
  return loaded;
}

/** Looks up a service constructor by its full name, e.g. `speechkit.stt.v3.Recognizer`. */
export function serviceConstructor(file: string, service: string): grpc.ServiceClientConstructor {
  let node: unknown = loadProto(file);
  for (const part of service.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== 'function' || !('service' in node)) {
    throw new Error(`service ${service} not found in ${file}`);
  }
  return node as grpc.ServiceClientConstructor;
}

const clients = new Map<string, grpc.Client>();

/**
 * The process-wide client for one service at one endpoint: every call shares its channel
 * (HTTP/2 multiplexes the streams), so a new call costs no connection setup.
 */
export function sharedClient(file: string, service: string, target: GrpcTarget): ServiceClient {
  const key = clientKey(service, target);
  let client = clients.get(key);
  if (client === undefined) {
    const Ctor = serviceConstructor(file, service);
    const credentials = target.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    client = new Ctor(target.endpoint, credentials, CHANNEL_OPTIONS);
    clients.set(key, client);
  }
  return client as ServiceClient;
}

function clientKey(service: string, target: GrpcTarget): string {
  return `${service}|${target.endpoint}|${target.tls ? 'tls' : 'plain'}`;
}

const warm = new Set<string>();

/**
 * Connects the shared channel of one service now and keeps it connected, so that no call waits for
 * a connection: when the channel goes idle (no calls for `grpc.client_idle_timeout_ms`) or loses its
 * connection, it connects again at once (grpc-js backs off between failed attempts). A failure is
 * one warning, the recovery one info line; start-up never waits for it.
 */
export function keepChannelWarm(file: string, service: string, target: GrpcTarget, log: Logger): void {
  const key = clientKey(service, target);
  if (warm.has(key)) return;
  warm.add(key);
  const channel = sharedClient(file, service, target).getChannel();
  const { IDLE, READY, SHUTDOWN, TRANSIENT_FAILURE } = grpc.connectivityState;
  let failing = false;
  const watch = (): void => {
    const state = channel.getConnectivityState(false);
    if (state === SHUTDOWN) {
      warm.delete(key);
      return;
    }
    if (state === IDLE) channel.getConnectivityState(true);
    if (state === TRANSIENT_FAILURE && !failing) {
      failing = true;
      log.warn({ endpoint: target.endpoint, service }, 'provider connection failed');
    } else if (state === READY && failing) {
      failing = false;
      log.info({ endpoint: target.endpoint, service }, 'provider connection restored');
    }
    channel.watchConnectivityState(state, Infinity, watch);
  };
  watch();
}

/** Closes every shared channel (shutdown, end of a test); the next call opens new ones. */
export function closeSharedClients(): void {
  for (const client of clients.values()) client.close();
  clients.clear();
}

/** Request metadata for Yandex Cloud: an API key wins over an IAM token; folder id when set. */
export function authMetadata(config: Pick<YandexConfig, 'apiKey' | 'iamToken' | 'folderId'>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (config.apiKey !== undefined) metadata.set('authorization', `Api-Key ${config.apiKey}`);
  else if (config.iamToken !== undefined) metadata.set('authorization', `Bearer ${config.iamToken}`);
  if (config.folderId !== undefined) metadata.set('x-folder-id', config.folderId);
  return metadata;
}

/** True for gRPC statuses that mean the credentials were refused: retrying cannot help. */
export function isAuthStatus(code: number | undefined): boolean {
  return code === grpc.status.UNAUTHENTICATED || code === grpc.status.PERMISSION_DENIED;
}

/** True for gRPC statuses worth a reconnect: the service or the connection failed, not the request. */
export function isRetryableStatus(code: number | undefined): boolean {
  return (
    code === grpc.status.UNAVAILABLE ||
    code === grpc.status.DEADLINE_EXCEEDED ||
    code === grpc.status.INTERNAL ||
    code === grpc.status.RESOURCE_EXHAUSTED ||
    code === grpc.status.ABORTED ||
    code === grpc.status.UNKNOWN ||
    code === grpc.status.CANCELLED
  );
}
