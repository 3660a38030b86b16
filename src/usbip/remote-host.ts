// A server's name as every party on this host spells it: the address `getent ahosts` gives first,
// as the host command's guard resolves it (host/lib/guards/usbip.sh), so that the service and a
// person's `usbip attach` take the same lock file and compare the same `usbip port` records.
import { isIP } from 'node:net';
import { execa } from 'execa';
import { findOnPath } from '../host/find-on-path.js';

// getent is given this long (or the caller's limit), and stopped with the caller's signal.
export const RESOLVE_TIMEOUT_MS = 10_000;

// A server's address as one spelling (IPv6 compressed, IPv4-mapped unwrapped), to compare addresses.
export async function canonicalHost(server: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
  const bare = server.startsWith('[') && server.endsWith(']') ? server.slice(1, -1) : server;
  if (isIP(bare) !== 0) return bare.toLowerCase();
  const getent = findOnPath('getent') ?? findOnPath('getent', '/usr/bin:/bin');
  if (getent === undefined) return bare;
  const result = await execa(getent, ['ahosts', bare], { reject: false, timeout: options.timeoutMs ?? RESOLVE_TIMEOUT_MS, ...(options.signal === undefined ? {} : { cancelSignal: options.signal }) });
  const first = String(result.stdout).split('\n')[0]?.split(/\s+/)[0];
  return first !== undefined && isIP(first) !== 0 ? first : bare;
}

// The guard's lock file name for a device of that server: "<address>_<busid>.lock", every
// character but A-Z a-z 0-9 . _ - made "_" (as its `tr -c`).
export function lockKey(address: string, busid: string): string {
  return `${`${address}_${busid}`.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`;
}
