// Who may reach USB/IP on this host, as the nftables ruleset kvc owns: TCP to usbipd (3240) and
// to the device list (3241) from a listed client or loopback only; every other packet to those
// ports dropped (a new connection's first one logged, rate-limited, with its source address).
// Pure: rendered from the exports' clients, applied whole by nft.ts.
//
// A port serves every export, so the kernel guards the union of the exports' clients; which
// client may have which export is the device list's and the exporter's part (device-list-filter.ts).
import type { ExportRule } from './devices-file.js';
import type { ClientNet } from './clients.js';

// kvc's own table; nothing else in the host's ruleset is named.
export const TABLE = 'inet kvc_usbip';
// The prefix of the kernel log line for a stranger's connection (journalctl -k).
export const LOG_PREFIX = 'kvc-usbip refused: ';

// The networks that may reach the ports, each family's with what a broader block covers left
// out (nft refuses overlapping elements); undefined when the table is to go (no exports, or an
// export open to any client, so the ports are open).
export function guardedNetworks(rules: readonly ExportRule[]): { v4: ClientNet[]; v6: ClientNet[] } | undefined {
  if (rules.length === 0 || rules.some((rule) => rule.clients.kind === 'any')) return undefined;
  const nets = rules.flatMap((rule) => (rule.clients.kind === 'list' ? rule.clients.entries : [])).filter((entry): entry is ClientNet => entry.kind === 'net');
  const kept: ClientNet[] = [];
  for (const net of [...nets].sort((a, b) => a.prefix - b.prefix)) {
    if (!kept.some((wide) => covers(wide, net))) kept.push(net);
  }
  const byAddress = (a: ClientNet, b: ClientNet): number => (a.network < b.network ? -1 : a.network > b.network ? 1 : a.prefix - b.prefix);
  return { v4: kept.filter((net) => net.family === 4).sort(byAddress), v6: kept.filter((net) => net.family === 6).sort(byAddress) };
}

// Whether the block `wide` holds every address of `net`.
export function covers(wide: ClientNet, net: ClientNet): boolean {
  if (wide.family !== net.family || wide.prefix > net.prefix) return false;
  const bits = BigInt(wide.family === 4 ? 32 : 128);
  const shift = bits - BigInt(wide.prefix);
  return (net.network >> shift) === (wide.network >> shift);
}

// The ruleset text for `nft -f -`: kvc's table made anew in one transaction (created empty first,
// so that deleting it cannot fail), or only deleted when guardedNetworks says it goes.
export function renderRuleset(rules: readonly ExportRule[], ports: readonly number[]): string {
  const lines = [`table ${TABLE} {`, '}', `delete table ${TABLE}`];
  const nets = guardedNetworks(rules);
  const open = ports.filter((port) => port > 0);
  if (nets === undefined || open.length === 0) return `${lines.join('\n')}\n`;
  const set = (name: string, type: string, members: readonly ClientNet[]): string[] => [
    `\tset ${name} {`,
    `\t\ttype ${type}`,
    '\t\tflags interval',
    ...(members.length === 0 ? [] : [`\t\telements = { ${members.map((net) => net.text).join(', ')} }`]),
    '\t}',
  ];
  lines.push(...guardTable([...set('clients4', 'ipv4_addr', nets.v4), ...set('clients6', 'ipv6_addr', nets.v6)], ['ip saddr @clients4 accept', 'ip6 saddr @clients6 accept'], open));
  return `${lines.join('\n')}\n`;
}

// kvc's table: `sets`, an input hook that sends TCP to `ports` to the guard chain, and that chain:
// loopback accepted, then each of `accepts`, then a new connection logged (rate-limited) and dropped.
export function guardTable(sets: readonly string[], accepts: readonly string[], ports: readonly number[]): string[] {
  return [
    `table ${TABLE} {`,
    ...sets,
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy accept;',
    `\t\ttcp dport { ${ports.join(', ')} } jump guard`,
    '\t}',
    '\tchain guard {',
    '\t\tiif "lo" accept',
    ...accepts.map((line) => `\t\t${line}`),
    `\t\ttcp flags syn limit rate 10/minute burst 20 packets log prefix "${LOG_PREFIX}" level info`,
    '\t\tcounter drop',
    '\t}',
    '}',
  ];
}
