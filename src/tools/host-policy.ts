import { BlockList, isIP } from 'node:net';
import { hostname as machineName, networkInterfaces } from 'node:os';

/** Decides which URLs a tool may reach: the agent's allowed hosts, minus the server's own endpoints. */
export interface HostPolicy {
  /** Why the URL is refused, or undefined when it may be requested. */
  refusal(url: URL, allowInternal: boolean): string | undefined;
}

type HostPattern = { suffix: string } | { host: string; port: string | undefined };
interface DeniedOrigin {
  host: string;
  port: string | undefined;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

/** What is wrong with an `allowHosts` entry (`host`, `host:port` or `*.suffix`), if anything. */
export function allowHostProblem(pattern: string): string | undefined {
  const parsed = parsePattern(pattern);
  return typeof parsed === 'string' ? parsed : undefined;
}

/**
 * A policy for `allowHosts` (exact hosts, `host:port`, or `*.suffix` for any subdomain) and
 * `deniedOrigins` (URLs or `host:port` of the ARI server and of this server's own HTTP port; a
 * loopback, wildcard or local-interface host stands for every address of this machine).
 */
export function createHostPolicy(allowHosts: readonly string[], deniedOrigins: readonly string[] = []): HostPolicy {
  const patterns: HostPattern[] = [];
  for (const entry of allowHosts) {
    const parsed = parsePattern(entry);
    if (typeof parsed === 'string') throw new Error(`allowHosts entry "${entry}": ${parsed}`);
    patterns.push(parsed);
  }
  const denied = deniedOrigins.map(parseOrigin);
  const local = localAddresses();
  const isLocal = (host: string) => local.names.has(host) || host.endsWith('.localhost') || (isIP(host) !== 0 && local.blocks.check(host, isIP(host) === 6 ? 'ipv6' : 'ipv4'));
  const sameHost = (a: string, b: string) => a === b || (isLocal(a) && isLocal(b));

  return {
    refusal(url, allowInternal) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return `the scheme ${url.protocol} is not allowed`;
      if (url.username !== '' || url.password !== '') return 'credentials in the URL are not allowed';
      const host = bare(url.hostname);
      const port = url.port || DEFAULT_PORTS[url.protocol]!;
      const allowed = patterns.some((p) =>
        'suffix' in p ? host.endsWith(`.${p.suffix}`) : p.host === host && (p.port === undefined || p.port === port),
      );
      if (!allowed) return `the host ${host} is not in the agent's allowed hosts`;
      if (!allowInternal && denied.some((d) => sameHost(d.host, host) && (d.port === undefined || d.port === port))) {
        return `${host}:${port} is one of the server's own endpoints`;
      }
      return undefined;
    },
  };
}

function parsePattern(entry: string): HostPattern | string {
  const text = entry.trim().toLowerCase();
  if (text === '') return 'empty';
  if (text.startsWith('*.')) {
    const suffix = text.slice(2);
    return /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(suffix) ? { suffix } : 'expected *.domain';
  }
  if (/[/@?#*\s]/.test(text)) return 'expected a host, host:port or *.domain';
  try {
    const url = new URL(`http://${text}`);
    return { host: bare(url.hostname), port: /:\d+$/.test(text) ? url.port || '80' : undefined };
  } catch {
    return 'not a valid host';
  }
}

function parseOrigin(entry: string): DeniedOrigin {
  let url: URL;
  try {
    url = new URL(entry.includes('://') ? entry : `http://${entry}`);
  } catch {
    throw new Error(`deniedOrigins entry "${entry}" is not a URL or host:port`);
  }
  const explicit = entry.includes('://') || /:\d+$/.test(entry);
  return { host: bare(url.hostname), port: explicit ? url.port || DEFAULT_PORTS[url.protocol] : undefined };
}

function bare(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

function localAddresses(): { names: Set<string>; blocks: BlockList } {
  const blocks = new BlockList();
  blocks.addSubnet('127.0.0.0', 8, 'ipv4');
  blocks.addAddress('0.0.0.0', 'ipv4');
  blocks.addAddress('::1', 'ipv6');
  blocks.addAddress('::', 'ipv6');
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) blocks.addAddress(bare(addr.address.replace(/%.*$/, '')), addr.family === 'IPv6' ? 'ipv6' : 'ipv4');
  }
  return { names: new Set(['localhost', machineName().toLowerCase()]), blocks };
}
