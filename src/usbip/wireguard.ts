// The effectful side of USB/IP through WireGuard (issue 23): this host's key, made by `wg genkey`
// and kept root's only; the peers kvc knows, one small file each; and the tunnel brought up or
// down by running the argument lists wireguard-plan.ts renders (execa, no shell). The private key
// goes from wg's stdout to its file and to `wg pubkey`'s stdin, never to a log or an argument.
import { mkdir, readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ExitStatus, KvcError } from '../errors.js';
import { parsePeer, TunnelSettingError, type TunnelPeer } from './wireguard-plan.js';

// wg or ip is missing or failed, or a peer cannot be added, removed or read.
export class WireGuardError extends KvcError {
  override readonly exitStatus = ExitStatus.unavailable;
}

// Where kvc keeps the tunnel's key and peers, and which wg and ip it runs (tests: other paths).
export interface WireGuardStore {
  // A folder only root may read (700): private.key (600) and peers/NAME.
  readonly dir: string;
  readonly wg?: string;
  readonly ip?: string;
}

// The folder under kvc's state folder.
export function storeDir(stateDir: string): string {
  return join(stateDir, 'usbip', 'wireguard');
}

// This host's private key's path in the store.
export function privateKeyPath(store: WireGuardStore): string {
  return join(store.dir, 'private.key');
}

// This host's public key, the private key made first (wg genkey, 600 in a 700 folder) when there
// is none; `created` says whether it was made now.
export async function hostKey(store: WireGuardStore): Promise<{ publicKey: string; created: boolean }> {
  const wg = store.wg ?? 'wg';
  await mkdir(store.dir, { recursive: true, mode: 0o700 });
  await chmod(store.dir, 0o700);
  let created = false;
  let secret = await readFile(privateKeyPath(store), 'utf8').catch(() => undefined);
  if (secret === undefined) {
    const made = await execa(wg, ['genkey'], { reject: false });
    if (made.exitCode !== 0) throw missingWg(wg, made.stderr);
    secret = String(made.stdout).trim();
    // wx: a key another kvc wrote meanwhile is kept (its file wins; this one is dropped).
    await writeFile(privateKeyPath(store), `${secret}\n`, { mode: 0o600, flag: 'wx' }).then(() => { created = true; }, async () => { secret = await readFile(privateKeyPath(store), 'utf8'); });
  }
  const pub = await execa(wg, ['pubkey'], { input: `${secret.trim()}\n`, reject: false });
  if (pub.exitCode !== 0) throw new WireGuardError(`wg pubkey refused the key in ${privateKeyPath(store)}: ${String(pub.stderr).trim()}`);
  return { publicKey: String(pub.stdout).trim(), created };
}

function missingWg(wg: string, stderr: unknown): WireGuardError {
  return new WireGuardError(`cannot run ${wg} genkey: ${String(stderr ?? '').trim() || 'not found'}`, { hint: 'install wireguard-tools (Debian: apt install wireguard-tools; Fedora: dnf install wireguard-tools)' });
}

// Adds a peer (its file written whole; an existing peer of that name is refused, not replaced).
export async function addPeer(store: WireGuardStore, name: string, fields: { publicKey: string; address: string; endpoint?: string | undefined }): Promise<TunnelPeer> {
  let peer: TunnelPeer;
  try {
    peer = parsePeer(name, fields);
  } catch (error) {
    if (error instanceof TunnelSettingError) throw new WireGuardError(error.message);
    throw error;
  }
  const known = await listPeers(store);
  const clash = known.find((other) => other.name === name || other.publicKey === peer.publicKey || other.address.text === peer.address.text);
  if (clash !== undefined) throw new WireGuardError(`peer ${clash.name} already has ${clash.name === name ? 'that name' : clash.publicKey === peer.publicKey ? 'that public key' : `the address ${clash.address.text}`}`, { hint: `kvc usbip peer remove ${clash.name} first` });
  await mkdir(join(store.dir, 'peers'), { recursive: true, mode: 0o700 });
  const text = [`public-key = ${peer.publicKey}`, `address = ${peer.address.text}`, ...(peer.endpoint === undefined ? [] : [`endpoint = ${peer.endpoint}`])].join('\n');
  await writeFile(join(store.dir, 'peers', name), `${text}\n`, { mode: 0o600, flag: 'wx' });
  return peer;
}

// The peers kvc knows, by name; a file it cannot read is an error naming it.
export async function listPeers(store: WireGuardStore): Promise<TunnelPeer[]> {
  const names = await readdir(join(store.dir, 'peers')).catch(() => [] as string[]);
  const peers: TunnelPeer[] = [];
  for (const name of names.sort()) {
    const text = await readFile(join(store.dir, 'peers', name), 'utf8');
    const fields = Object.fromEntries(text.split('\n').map((line) => /^([a-z-]+) = (.*)$/.exec(line)).filter((match) => match !== null).map((match) => [match[1]!, match[2]!]));
    try {
      peers.push(parsePeer(name, { publicKey: fields['public-key'] ?? '', address: fields.address ?? '', endpoint: fields.endpoint }));
    } catch (error) {
      throw new WireGuardError(`${join(store.dir, 'peers', name)}: ${(error as Error).message}`);
    }
  }
  return peers;
}

// Removes a peer; false when kvc knows no peer of that name.
export async function removePeer(store: WireGuardStore, name: string): Promise<boolean> {
  if (!(await listPeers(store)).some((peer) => peer.name === name)) return false;
  await rm(join(store.dir, 'peers', name));
  return true;
}

// Runs the plan's commands in order (wg and ip from the store's paths); throws WireGuardError with
// the failing command's own words.
export async function runTunnelCommands(store: WireGuardStore, commands: readonly (readonly string[])[]): Promise<void> {
  for (const [command, ...args] of commands) {
    const file = command === 'wg' ? store.wg ?? 'wg' : command === 'ip' ? store.ip ?? 'ip' : undefined;
    if (file === undefined) throw new WireGuardError(`not a tunnel command: ${String(command)}`);
    const result = await execa(file, args, { reject: false, timeout: 20_000 });
    if (result.exitCode !== 0) throw new WireGuardError(`${command} ${args.slice(0, 3).join(' ')} … failed: ${String(result.stderr).trim().split('\n')[0] ?? `exit status ${result.exitCode}`}`, { hint: 'the kernel needs WireGuard (modprobe wireguard; Linux 5.6 or later) and wireguard-tools' });
  }
}
