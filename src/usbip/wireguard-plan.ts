// USB/IP through WireGuard (issue 23), as a plan on data: the commands that make the tunnel's
// interface and its peers (argument lists for ip and wg, no shell), and the nftables ruleset that
// admits TCP 3240/3241 only on that interface and from the peers the exports name. Pure: the
// effectful side (wireguard.ts) runs what this renders; the unit tests check it to the letter.
//
//   [tunnel]                       in the devices file: this host's end of the tunnel
//   address = 10.232.0.1/24
//   port = 51820
//   and the peers, kvc's state (wireguard.ts), one per `kvc usbip peer add laptop --public-key …
//   --address 10.232.0.2 [--endpoint 192.0.2.7:51820]` (the endpoint: where to send first; an
//   importer names its exporter)
import type { ExportRule } from './devices-file.js';
import type { ClientNet } from './clients.js';
import { parseClients } from './clients.js';
import { covers, guardTable, TABLE } from './firewall-plan.js';
import { TunnelSettingError, type TunnelSetting } from './tunnel-setting.js';

export { parseTunnel, TunnelSettingError, type TunnelSetting } from './tunnel-setting.js';

// The tunnel's interface (one per host: kvc owns it and nothing else of the network).
export const TUNNEL_INTERFACE = 'kvcwg';
// Where the host's private key lives (root's only, 600, in a 700 folder; never logged).
export const PRIVATE_KEY_PATH = '/var/lib/kvc/usbip/wireguard/private.key';

// One peer as the devices file and `kvc usbip peer list` give it.
export interface TunnelPeer {
  readonly name: string;
  // WireGuard's base64 public key (44 characters).
  readonly publicKey: string;
  // The peer's one address in the tunnel.
  readonly address: ClientNet;
  // host:port to reach it at first, if this side starts the conversation.
  readonly endpoint?: string;
}

const PUBLIC_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const ENDPOINT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

// Checks one peer's fields at the edge (the devices file, the CLI); returns the peer.
export function parsePeer(name: string, fields: { publicKey: string; address: string; endpoint?: string | undefined }): TunnelPeer {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(name)) throw new TunnelSettingError(`peer name ${JSON.stringify(name)}: a letter, then letters, digits, _ or - (63 at most)`);
  if (!PUBLIC_KEY.test(fields.publicKey)) throw new TunnelSettingError(`peer ${name}: public-key is not a WireGuard public key (44 characters of base64, as wg pubkey writes it)`);
  const clients = parseClients(fields.address);
  const address = clients.kind === 'list' && clients.entries.length === 1 ? clients.entries[0] : undefined;
  if (address === undefined || address.kind !== 'net' || address.prefix !== (address.family === 4 ? 32 : 128)) {
    throw new TunnelSettingError(`peer ${name}: address must be one address in the tunnel (10.232.0.2 or fd00:232::2), not ${JSON.stringify(fields.address)}`);
  }
  if (fields.endpoint !== undefined) {
    const port = ENDPOINT.exec(fields.endpoint)?.[2];
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) throw new TunnelSettingError(`peer ${name}: endpoint must be host:port (192.0.2.7:51820, [2001:db8::7]:51820), not ${JSON.stringify(fields.endpoint)}`);
  }
  return { name, publicKey: fields.publicKey, address, ...(fields.endpoint === undefined ? {} : { endpoint: fields.endpoint }) };
}

// The commands that bring the tunnel up, in order: the interface, its key, port and peers (wg set
// replaces nothing it is not given, so a peer taken off is removed by name), its address, up.
// `removed` are public keys of peers to take off an interface that already exists; `keyPath` the
// private key's file (default: kvc's, under /var/lib/kvc).
export function tunnelUpCommands(tunnel: TunnelSetting, peers: readonly TunnelPeer[], options: { exists?: boolean; removed?: readonly string[]; keyPath?: string } = {}): string[][] {
  const wg = ['wg', 'set', TUNNEL_INTERFACE, 'listen-port', String(tunnel.listenPort), 'private-key', options.keyPath ?? PRIVATE_KEY_PATH];
  for (const key of options.removed ?? []) wg.push('peer', key, 'remove');
  for (const peer of peers) {
    wg.push('peer', peer.publicKey, 'allowed-ips', peerAllowed(peer));
    if (peer.endpoint !== undefined) wg.push('endpoint', peer.endpoint);
  }
  if (options.exists === true) return [wg];
  return [
    ['ip', 'link', 'add', 'dev', TUNNEL_INTERFACE, 'type', 'wireguard'],
    wg,
    ['ip', 'address', 'add', tunnel.address, 'dev', TUNNEL_INTERFACE],
    ['ip', 'link', 'set', 'dev', TUNNEL_INTERFACE, 'up'],
  ];
}

// The command that takes the tunnel away (its peers with it).
export function tunnelDownCommands(): string[][] {
  return [['ip', 'link', 'del', 'dev', TUNNEL_INTERFACE]];
}

function peerAllowed(peer: TunnelPeer): string {
  return `${peer.address.text}/${peer.address.family === 4 ? 32 : 128}`;
}

// The peers the exports let in: every peer for an export open to any client (with the tunnel on,
// "any" means any peer, never any address), else those named in a clients list or whose address
// a listed block covers. Sorted by name.
export function admittedPeers(rules: readonly ExportRule[], peers: readonly TunnelPeer[]): TunnelPeer[] {
  const admitted = peers.filter((peer) =>
    rules.some((rule) => {
      if (rule.clients.kind === 'any') return true;
      return rule.clients.entries.some((entry) => (entry.kind === 'peer' ? entry.name === peer.name : covers(entry, peer.address)));
    }),
  );
  return admitted.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// A clients entry naming a peer the devices file does not have: what to say, or undefined.
export function unknownPeer(rules: readonly ExportRule[], peers: readonly TunnelPeer[]): string | undefined {
  for (const rule of rules) {
    if (rule.clients.kind !== 'list') continue;
    const entry = rule.clients.entries.find((candidate) => candidate.kind === 'peer' && !peers.some((peer) => peer.name === candidate.name));
    if (entry?.kind === 'peer') return `export ${rule.name}: clients names the WireGuard peer ${JSON.stringify(entry.name)}, which kvc does not know (kvc usbip peer add ${entry.name} --public-key KEY --address 10.232.0.N adds it)`;
  }
  return undefined;
}

// The ruleset text for `nft -f -` with the tunnel on: kvc's table made anew, TCP `ports` accepted
// from loopback, and on the tunnel's interface from the admitted peers' tunnel addresses only;
// everything else to those ports (the plain link included, whoever sends it) logged and dropped.
export function renderTunnelRuleset(rules: readonly ExportRule[], peers: readonly TunnelPeer[], ports: readonly number[]): string {
  const lines = [`table ${TABLE} {`, '}', `delete table ${TABLE}`];
  const open = ports.filter((port) => port > 0);
  if (rules.length === 0 || open.length === 0) return `${lines.join('\n')}\n`;
  const admitted = admittedPeers(rules, peers);
  const set = (name: string, type: string, family: 4 | 6): string[] => {
    const members = admitted.filter((peer) => peer.address.family === family).map((peer) => peer.address.text);
    return [`\tset ${name} {`, `\t\ttype ${type}`, ...(members.length === 0 ? [] : [`\t\telements = { ${members.join(', ')} }`]), '\t}'];
  };
  lines.push(...guardTable([...set('peers4', 'ipv4_addr', 4), ...set('peers6', 'ipv6_addr', 6)], [`iifname "${TUNNEL_INTERFACE}" ip saddr @peers4 accept`, `iifname "${TUNNEL_INTERFACE}" ip6 saddr @peers6 accept`], open));
  return `${lines.join('\n')}\n`;
}

// The exports with each peer their clients name written as that peer's tunnel address: what the
// kernel, the device list and the exporter see of it (the source of its connections on kvcwg).
// A peer kvc does not know: at start (`unknown: 'refuse'`) TunnelSettingError, with the command
// that adds it; while running (`'drop'`: the peer was just removed) it admits no one.
export function resolvePeerClients(rules: readonly ExportRule[], peers: readonly TunnelPeer[], unknown: 'refuse' | 'drop' = 'refuse'): ExportRule[] {
  const missing = unknownPeer(rules, peers);
  if (missing !== undefined && unknown === 'refuse') throw new TunnelSettingError(missing);
  return rules.map((rule) => {
    if (rule.clients.kind === 'any') return rule;
    const entries = rule.clients.entries.flatMap((entry) => (entry.kind === 'peer' ? peers.filter((peer) => peer.name === entry.name).map((peer) => peer.address) : [entry]));
    return { ...rule, clients: { kind: 'list', entries } };
  });
}

// What changes on a running tunnel when the peers kvc knows change: the public keys to take off
// (a peer removed, or its key replaced), and whether anything changed at all.
export function peersChange(running: readonly TunnelPeer[], next: readonly TunnelPeer[]): { changed: boolean; removed: string[] } {
  const removed = running.filter((peer) => !next.some((other) => other.publicKey === peer.publicKey)).map((peer) => peer.publicKey);
  const text = (peers: readonly TunnelPeer[]): string => JSON.stringify(peers.map((peer) => [peer.name, peer.publicKey, peer.address.text, peer.endpoint ?? '']));
  return { changed: text(running) !== text(next), removed };
}

// How the journal names the peers: "laptop (10.232.0.2), desk (10.232.0.3)" or "none".
export function describePeers(peers: readonly TunnelPeer[]): string {
  return peers.length === 0 ? 'none' : peers.map((peer) => `${peer.name} (${peer.address.text}${peer.endpoint === undefined ? '' : `, at ${peer.endpoint}`})`).join(', ');
}
