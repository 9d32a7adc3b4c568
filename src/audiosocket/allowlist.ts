/**
 * Peer allowlist from CIDR blocks, IPv4 and IPv6. IPv4 is held as IPv4-mapped IPv6
 * (::ffff:a.b.c.d), so an IPv4 block also matches a peer that a dual-stack socket reports as mapped.
 */

/** One parsed block: a 128-bit network and prefix length. */
export interface Cidr {
  network: bigint;
  prefix: number;
}

const MAPPED_PREFIX = 0xffffn << 32n;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  let body = text;
  let tail: bigint[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.') && lastColon >= 0) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): bigint[] | undefined => {
    if (s === '') return [];
    const groups: bigint[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
      groups.push(BigInt(parseInt(g, 16)));
    }
    return groups;
  };
  const head = toGroups(halves[0]!);
  const rest = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  let groups: bigint[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  if (tail.length === 2) {
    groups[6] = tail[0]!;
    groups[7] = tail[1]!;
  }
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Parses an IPv4 or IPv6 address (zone id ignored) to 128 bits, IPv4 as mapped; undefined if invalid. */
export function parseAddress(address: string): bigint | undefined {
  const text = address.trim().replace(/%.*$/, '');
  if (text.includes(':')) return parseIpv6(text);
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : MAPPED_PREFIX | v4;
}

/** Parses "10.0.0.0/8", "fd00::/8", or a bare address (a single host); undefined if invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, extra] = text.trim().split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const isV4 = !addr.includes(':');
  const value = parseAddress(addr);
  if (value === undefined) return undefined;
  const max = isV4 ? 32 : 128;
  let prefix = max;
  if (bits !== undefined) {
    if (!/^\d{1,3}$/.test(bits)) return undefined;
    prefix = Number(bits);
    if (prefix > max) return undefined;
  }
  if (isV4) prefix += 96;
  return { network: value & mask(prefix), prefix };
}

function mask(prefix: number): bigint {
  return prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
}

/** A predicate for peer addresses; an empty list allows everyone. Throws on an invalid block. */
export function createAllowlist(blocks: readonly string[]): (address: string | undefined) => boolean {
  const cidrs = blocks.map((block) => {
    const cidr = parseCidr(block);
    if (cidr === undefined) throw new RangeError(`invalid CIDR block "${block}"`);
    return { network: cidr.network, mask: mask(cidr.prefix) };
  });
  if (cidrs.length === 0) return () => true;
  return (address) => {
    if (address === undefined) return false;
    const value = parseAddress(address);
    if (value === undefined) return false;
    return cidrs.some((c) => (value & c.mask) === c.network);
  };
}
