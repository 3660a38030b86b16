// Which exports a client of the device list is told about: those whose `clients` name it (the
// host itself, over loopback, is told of all). Pure.
import type { Clients } from './clients.js';
import { clientAllowed, parsePeerAddress } from './clients.js';

// Whether the peer is this host over loopback (127.0.0.0/8, ::1, and their mapped spellings).
export function isLoopback(address: string): boolean {
  const peer = parsePeerAddress(address);
  if (peer === undefined) return false;
  return peer.family === 4 ? peer.number >> 24n === 127n : peer.number === 1n;
}

// The entries of `exported` the peer may attach: by each entry's rule's clients (an entry of a rule
// not in `clients`, which cannot happen, is told to no one).
export function exportsFor<T extends { readonly rule: string }>(peer: string, exported: readonly T[], clients: ReadonlyMap<string, Clients>): T[] {
  if (isLoopback(peer)) return [...exported];
  return exported.filter((entry) => {
    const allowed = clients.get(entry.rule);
    return allowed !== undefined && clientAllowed(allowed, peer);
  });
}
