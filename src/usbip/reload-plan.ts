// What the service does when the devices file changes while it runs: the exports' rules (which
// devices, which clients) are taken over at once, with kvc's nftables table made anew and each
// import held by a client no longer named for its export cut; anything else (the imports, the
// device list's port or addresses, the tunnel's setting, exports appearing where there were none or all going) needs a
// restart of the service, which is said. Pure: the device manager and the exporter carry it out.
import type { DevicesConfig } from './devices-file.js';
import type { Clients } from './clients.js';
import { exportsFor } from './device-list-filter.js';

// The outcome of comparing the running configuration with the file as it reads now.
export type ReloadPlan =
  | { readonly kind: 'same' }
  | { readonly kind: 'exports' }
  | { readonly kind: 'restart'; readonly why: string };

// Compares the running configuration with the new one: the same, the exports' rules only (taken
// over live), or something only a restart applies (with what).
export function planReload(running: DevicesConfig, next: DevicesConfig): ReloadPlan {
  // Compared as text (client networks hold bigints, written as their digits).
  const text = (value: unknown): string => JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item));
  const same = (a: unknown, b: unknown): boolean => text(a) === text(b);
  const needs: string[] = [];
  if (!same(running.imports, next.imports)) needs.push('the imports');
  if (running.metadataPort !== next.metadataPort || !same(running.listen, next.listen)) needs.push('[server]');
  if (!same(running.tunnel ?? null, next.tunnel ?? null)) needs.push('[tunnel]');
  if ((running.exports.length === 0) !== (next.exports.length === 0)) needs.push(next.exports.length === 0 ? 'no exports left' : 'exports where there were none');
  if (needs.length > 0) return { kind: 'restart', why: needs.join(', ') };
  return same(running.exports, next.exports) ? { kind: 'same' } : { kind: 'exports' };
}

// One import to cut: the device of export `rule` on `busid`, held by `peer`.
export interface Revoked {
  readonly rule: string;
  readonly busid: string;
  readonly peer: string;
}

// The exported devices imported now by a peer the (new) clients of their export do not name; an
// export gone from the file is left to the exporter's look (it unbinds what no rule names), and
// an import whose peer is unknown (attached before the service started) cannot be judged.
export function revokedImports(exported: readonly { readonly rule: string; readonly busid: string; readonly state: string; readonly importedBy: string | null }[], clients: ReadonlyMap<string, Clients>): Revoked[] {
  return exported
    .filter((entry) => entry.state === 'imported' && entry.importedBy !== null && clients.has(entry.rule))
    .filter((entry) => exportsFor(entry.importedBy!, [entry], clients).length === 0)
    .map((entry) => ({ rule: entry.rule, busid: entry.busid, peer: entry.importedBy! }));
}
