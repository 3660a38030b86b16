// Who may attach an export: the `clients` key of an [export.NAME] section, parsed, and the
// question "may this peer address have it?" answered. Pure: the parse is checked once with the
// devices file; the nftables rules, the device list and the exporter all ask clientAllowed.
//
//   clients = 10.77.0.2, 10.77.1.0/24, fd00::/64    addresses and CIDR blocks (IPv4 and IPv6)
//   clients = any                                     anyone who can reach the host, on purpose
//   clients = laptop                                  a WireGuard peer's name (reserved: refused
//                                                     until kvc serves WireGuard peers)
import { isIPv4, isIPv6 } from 'node:net';

// One network: an address is a block of its full length (/32, /128).
export interface ClientNet {
  readonly kind: 'net';
  readonly family: 4 | 6;
  // The block's first address, as a number.
  readonly network: bigint;
  readonly prefix: number;
  // As nft and status write it: "10.77.0.2", "10.77.1.0/24", "fd00::/64".
  readonly text: string;
}

// A WireGuard peer, by the name kvc gives it.
export interface ClientPeer {
  readonly kind: 'peer';
  readonly name: string;
}

// One entry of a clients list.
export type ClientEntry = ClientNet | ClientPeer;

// An export's clients: everyone (written on purpose), or a list.
export type Clients = { readonly kind: 'any' } | { readonly kind: 'list'; readonly entries: readonly ClientEntry[] };

// A client list that cannot be read: what is wrong with it, and what to write instead.
export class ClientsSyntaxError extends Error {
  constructor(readonly problem: string, readonly hint: string) {
    super(problem);
  }
}

const PEER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
const HINT = 'write clients = 10.77.0.2, 10.77.1.0/24, fd00::5 (addresses or CIDR blocks), or clients = any to let anyone who reaches this host attach it';

// Parses the value of `clients`; throws ClientsSyntaxError naming the first entry it cannot read.
export function parseClients(value: string): Clients {
  const words = value.split(/[\s,]+/).filter((word) => word !== '');
  if (words.length === 0) throw new ClientsSyntaxError('is empty', HINT);
  if (words.some((word) => word.toLowerCase() === 'any')) {
    if (words.length > 1) throw new ClientsSyntaxError('mixes "any" with a list', 'write either clients = any or a list of addresses and blocks, not both');
    return { kind: 'any' };
  }
  const entries: ClientEntry[] = [];
  const seen = new Set<string>();
  for (const word of words) {
    const entry = parseEntry(word);
    const key = entry.kind === 'net' ? entry.text : `peer ${entry.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push(entry);
  }
  return { kind: 'list', entries };
}

function parseEntry(word: string): ClientEntry {
  const slash = word.indexOf('/');
  const address = slash < 0 ? word : word.slice(0, slash);
  const family = isIPv4(address) ? 4 : isIPv6(address) && !address.includes('%') ? 6 : undefined;
  if (family === undefined) {
    if (slash < 0 && PEER_NAME.test(word)) return { kind: 'peer', name: word };
    throw new ClientsSyntaxError(`${JSON.stringify(word)} is not an address, a CIDR block or a peer name`, HINT);
  }
  const bits = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(bits) : word.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits) throw new ClientsSyntaxError(`${JSON.stringify(word)} has no prefix length 0-${bits}`, HINT);
  const prefix = Number(prefixText);
  const number = family === 4 ? ipv4Number(address) : ipv6Number(address);
  const network = number & mask(family, prefix);
  if (network !== number) throw new ClientsSyntaxError(`${JSON.stringify(word)} has bits set past its /${prefix}`, `write the block's first address: ${formatAddress(family, network)}/${prefix}`);
  const text = `${formatAddress(family, network)}${prefix === bits ? '' : `/${prefix}`}`;
  return { kind: 'net', family, network, prefix, text };
}

// Whether the peer at `address` (as a socket or a log line gives it: "10.0.0.5",
// "::ffff:10.0.0.5", "fe80::1%eth0") may have the export; `peerOf` names the WireGuard peer an
// address belongs to, where kvc serves any.
export function clientAllowed(clients: Clients, address: string, peerOf: (address: string) => string | undefined = () => undefined): boolean {
  if (clients.kind === 'any') return true;
  const peer = parsePeerAddress(address);
  if (peer === undefined) return false;
  return clients.entries.some((entry) => {
    if (entry.kind === 'peer') return peerOf(peer.text) === entry.name;
    return entry.family === peer.family && (peer.number & mask(entry.family, entry.prefix)) === entry.network;
  });
}

// An address as a socket gives it, in one spelling: an IPv4-mapped IPv6 address is the IPv4 one,
// a zone is dropped. Undefined for what is not an address.
export function parsePeerAddress(address: string): { family: 4 | 6; number: bigint; text: string } | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:([0-9.]+)$/i.exec(bare);
  if (mapped !== null && isIPv4(mapped[1]!)) return parsePeerAddress(mapped[1]!);
  if (isIPv4(bare)) {
    const number = ipv4Number(bare);
    return { family: 4, number, text: formatAddress(4, number) };
  }
  if (isIPv6(bare)) {
    const number = ipv6Number(bare);
    return { family: 6, number, text: formatAddress(6, number) };
  }
  return undefined;
}

// How status and the journal write a client list: "10.77.0.2, 10.77.1.0/24" or "any".
export function describeClients(clients: Clients): string {
  if (clients.kind === 'any') return 'any';
  return clients.entries.map((entry) => (entry.kind === 'net' ? entry.text : `peer ${entry.name}`)).join(', ');
}

function mask(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(family === 4 ? 32 : 128);
  const all = (1n << bits) - 1n;
  return (all >> BigInt(prefix)) ^ all;
}

function ipv4Number(address: string): bigint {
  return address.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n);
}

// isIPv6 has checked the spelling; an IPv4 tail ("::ffff:1.2.3.4") counts as two groups.
function ipv6Number(address: string): bigint {
  let text = address.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail !== null) {
    const v4 = ipv4Number(tail[1]!);
    text = `${text.slice(0, tail.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  return groups.reduce((sum, group) => (sum << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

// The address's usual spelling (IPv6: lower case, the longest run of zero groups as "::").
function formatAddress(family: 4 | 6, number: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((number >> shift) & 0xffn)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((number >> shift) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > best.length && length > 1) best = { start, length };
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
