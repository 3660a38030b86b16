// Reads what the target kernel exports, as far as kvc can learn it on the host: its Module.symvers
// where a build tree has one, /proc/kallsyms' __crc_ symbols where the running kernel shows them,
// and the __versions of the modules installed for it (read until every symbol asked for is found).
import { readdir, readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { execa } from 'execa';
import { readModuleAbi, type ModuleAbi } from './module-abi.js';
import { parseKallsymsCrcs, parseSymvers } from './symvers.js';
import type { KnownCrc } from './abi-check.js';

// What was learned.
export interface HostExports {
  readonly vermagic: { readonly value: string; readonly from: string } | undefined;
  readonly crcs: Map<string, KnownCrc>;
}

// The module files under a folder, recursively (.ko, .ko.gz, .ko.xz, .ko.zst), sorted.
export async function moduleFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((entry) => entry.isFile() && /\.ko(\.gz|\.xz|\.zst)?$/.test(entry.name)).map((entry) => join(entry.parentPath, entry.name)).sort();
}

// A module's name from its file name: usbip-core.ko.xz → usbip-core.
export function moduleFileName(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.ko(\.gz|\.xz|\.zst)?$/, '');
}

// A module file's ABI facts, decompressed as its name says; undefined when it cannot be read.
export async function readModuleFile(path: string): Promise<ModuleAbi | undefined> {
  try {
    let bytes: Buffer;
    if (path.endsWith('.xz') || path.endsWith('.zst')) {
      bytes = (await execa(path.endsWith('.xz') ? 'xz' : 'zstd', ['-dc', '--', path], { encoding: 'buffer', stripFinalNewline: false })).stdout as unknown as Buffer;
    } else {
      bytes = await readFile(path);
      if (path.endsWith('.gz')) bytes = gunzipSync(bytes);
    }
    return readModuleAbi(moduleFileName(path), Buffer.from(bytes));
  } catch {
    return undefined;
  }
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

// Learns the vermagic and the CRCs of `wanted` for kernel kver under `root`: Module.symvers first
// (build/), then /proc/kallsyms when kver is running, then the kernel's own modules (kernel/, not
// extra/ or updates/, which may come from elsewhere), read until nothing wanted is left.
export async function readHostExports(root: string, kver: string, running: boolean, wanted: ReadonlySet<string>): Promise<HostExports> {
  const crcs = new Map<string, KnownCrc>();
  const tree = join(root, 'lib/modules', kver);
  for (const [file, parse] of [[join(tree, 'build/Module.symvers'), (text: string) => new Map([...parseSymvers(text)].map(([symbol, entry]) => [symbol, entry.crc]))], [running ? join(root, 'proc/kallsyms') : '', parseKallsymsCrcs]] as const) {
    if (file === '') continue;
    const text = await readText(file);
    if (text === undefined) continue;
    for (const [symbol, crc] of parse(text)) if (wanted.has(symbol) && !crcs.has(symbol)) crcs.set(symbol, { crc, from: file });
  }
  let vermagic: HostExports['vermagic'];
  const conflicting = new Set<string>();
  for (const file of await moduleFiles(join(tree, 'kernel'))) {
    if (vermagic !== undefined && [...wanted].every((symbol) => crcs.has(symbol) || conflicting.has(symbol))) break;
    const module = await readModuleFile(file);
    if (module === undefined) continue;
    if (vermagic === undefined && module.vermagic !== undefined) vermagic = { value: module.vermagic, from: file };
    for (const [symbol, crc] of module.versions) {
      if (!wanted.has(symbol)) continue;
      const known = crcs.get(symbol);
      if (known === undefined) crcs.set(symbol, { crc, from: `the __versions of ${file}` });
      // Two of the kernel's own modules disagree: the tree is mixed, the symbol is not checked.
      else if (known.crc !== crc && known.from.startsWith('the __versions')) conflicting.add(symbol);
    }
  }
  for (const symbol of conflicting) crcs.delete(symbol);
  return { vermagic, crcs };
}
