// Reads what the target kernel exports, as far as kvc can learn it on the host: its Module.symvers
// where a build tree has one, /proc/kallsyms' __crc_ symbols where the running kernel shows them,
// and the __versions of the modules installed for it: first those that depend on the modules the
// image's modules depend on (they import the same symbols), then the others, in batches, until
// every symbol asked for is found or the budget of modules is spent (a load must stay quick).
import { readdir, readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { execa } from 'execa';
import { splitElfStream } from './elf.js';
import { readModuleAbi, type ModuleAbi } from './module-abi.js';
import { parseKallsymsCrcs, parseSymvers } from './symvers.js';
import type { KnownCrc } from './abi-check.js';
import { kernelModuleName } from '../module-state.js';
import { parseModulesDep } from '../modules-dep.js';

// What was learned.
export interface HostExports {
  readonly vermagic: { readonly value: string; readonly from: string } | undefined;
  readonly crcs: Map<string, KnownCrc>;
  // How many of the kernel's modules were read.
  readonly read: number;
  // The decompressors that were needed for the kernel's modules and are not installed (xz for
  // .ko.xz, zstd for .ko.zst): the modules they hold were not read.
  readonly missingTools: readonly string[];
}

// How the kernel's modules are read.
export interface ReadBudget {
  // Modules the image's modules depend on (usbcore): modules that depend on them are read first.
  readonly near?: readonly string[];
  // At most this many modules are read.
  readonly modules?: number;
}

// Modules read in one batch (one xz or zstd process for compressed ones).
const BATCH = 64;
// The default budget: enough for the symbols of a driver, quick in a slow guest.
const DEFAULT_BUDGET = 600;

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

// The files, those that depend on a module of `near` (by modules.dep) first. Pure.
export function nearFirst(files: readonly string[], dep: ReadonlyMap<string, readonly string[]>, near: readonly string[]): string[] {
  const wanted = new Set(near.map(kernelModuleName));
  const isNear = (file: string): boolean => (dep.get(kernelModuleName(moduleFileName(file))) ?? []).some((name) => wanted.has(kernelModuleName(name)));
  return [...files.filter(isNear), ...files.filter((file) => !isNear(file))];
}

// The ABI facts of module files of one kind of compression; files that cannot be read are left out.
// `missing` gets the name of a decompressor that is not installed.
async function readBatch(paths: readonly string[], missing: Set<string>): Promise<Array<{ path: string; module: ModuleAbi }>> {
  const tool = paths[0]?.endsWith('.xz') === true ? 'xz' : paths[0]?.endsWith('.zst') === true ? 'zstd' : undefined;
  let blobs: Array<Buffer | undefined>;
  if (tool !== undefined) {
    try {
      const out = (await execa(tool, ['-dc', '--', ...paths], { encoding: 'buffer', stripFinalNewline: false })).stdout as unknown as Uint8Array;
      const files = splitElfStream(Buffer.from(out));
      blobs = files.length === paths.length ? files : [];
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') missing.add(tool);
      blobs = [];
    }
  } else {
    blobs = await Promise.all(paths.map(async (path) => {
      const bytes = await readFile(path).catch(() => undefined);
      return bytes !== undefined && path.endsWith('.gz') ? gunzipSync(bytes) : bytes;
    }));
  }
  return blobs.flatMap((bytes, index) => {
    const path = paths[index] as string;
    if (bytes === undefined) return [];
    try {
      return [{ path, module: readModuleAbi(moduleFileName(path), bytes) }];
    } catch {
      return [];
    }
  });
}

// Consecutive runs of files of the same compression, at most BATCH long.
function batches(files: readonly string[]): string[][] {
  const out: string[][] = [];
  for (const file of files) {
    const kind = /\.ko(\.\w+)?$/.exec(file)?.[1] ?? '';
    const last = out[out.length - 1];
    if (last !== undefined && last.length < BATCH && (/\.ko(\.\w+)?$/.exec(last[0] as string)?.[1] ?? '') === kind) last.push(file);
    else out.push([file]);
  }
  return out;
}

// Learns the vermagic and the CRCs of `wanted` for kernel kver under `root`: Module.symvers first
// (build/), then /proc/kallsyms when kver is running, then the kernel's own modules (kernel/, not
// extra/ or updates/, which may come from elsewhere). A symbol two of the kernel's modules import
// with different CRCs is not known (the tree is mixed).
export async function readHostExports(root: string, kver: string, running: boolean, wanted: ReadonlySet<string>, budget: ReadBudget = {}): Promise<HostExports> {
  const crcs = new Map<string, KnownCrc>();
  const tree = join(root, 'lib/modules', kver);
  const symvers = await readFile(join(tree, 'build/Module.symvers'), 'utf8').catch(() => undefined);
  for (const [symbol, entry] of parseSymvers(symvers ?? '')) if (wanted.has(symbol)) crcs.set(symbol, { crc: entry.crc, from: join(tree, 'build/Module.symvers') });
  const kallsyms = running ? await readFile(join(root, 'proc/kallsyms'), 'utf8').catch(() => undefined) : undefined;
  for (const [symbol, crc] of parseKallsymsCrcs(kallsyms ?? '')) if (wanted.has(symbol) && !crcs.has(symbol)) crcs.set(symbol, { crc, from: join(root, 'proc/kallsyms') });
  const dep = parseModulesDep(await readFile(join(tree, 'modules.dep'), 'utf8').catch(() => ''));
  const files = nearFirst(await moduleFiles(join(tree, 'kernel')), dep, budget.near ?? []).slice(0, budget.modules ?? DEFAULT_BUDGET);
  let vermagic: HostExports['vermagic'];
  let read = 0;
  const conflicting = new Set<string>();
  const missing = new Set<string>();
  for (const batch of batches(files)) {
    if (vermagic !== undefined && [...wanted].every((symbol) => crcs.has(symbol) || conflicting.has(symbol))) break;
    if (missing.has(batch[0]?.endsWith('.xz') === true ? 'xz' : batch[0]?.endsWith('.zst') === true ? 'zstd' : '')) continue;
    for (const { path, module } of await readBatch(batch, missing)) {
      read += 1;
      if (vermagic === undefined && module.vermagic !== undefined) vermagic = { value: module.vermagic, from: path };
      for (const [symbol, crc] of module.versions) {
        if (!wanted.has(symbol)) continue;
        const known = crcs.get(symbol);
        if (known === undefined) crcs.set(symbol, { crc, from: `the __versions of ${path}` });
        else if (known.crc !== crc && known.from.startsWith('the __versions')) conflicting.add(symbol);
      }
    }
  }
  for (const symbol of conflicting) crcs.delete(symbol);
  return { vermagic, crcs, read, missingTools: [...missing].sort() };
}
