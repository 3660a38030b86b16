// What the running kernel says about a module, read from /sys/module (never a grep of lsmod).
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

// live, coming and going are loadable modules; builtin is compiled into the kernel.
export type ModuleState = 'live' | 'coming' | 'going' | 'builtin' | 'absent';

// A module's state with its users.
export interface ModuleStatus {
  readonly name: string;
  readonly state: ModuleState;
  readonly refcnt: number;
  readonly holders: readonly string[];
}

// The kernel's own spelling of a module name: "-" and "_" are the same, the kernel uses "_".
export function kernelModuleName(name: string): string {
  return name.replaceAll('-', '_');
}

// Reads /sys/module/<name>; sysRoot lets tests point at a copy of /sys.
export async function readModuleStatus(name: string, sysRoot = '/sys'): Promise<ModuleStatus> {
  const canonical = kernelModuleName(name);
  const dir = join(sysRoot, 'module', canonical);
  const initstate = await readTrimmed(join(dir, 'initstate'));
  if (initstate === undefined) {
    const exists = await readdir(dir).then(() => true, () => false);
    return { name: canonical, state: exists ? 'builtin' : 'absent', refcnt: 0, holders: [] };
  }
  const state: ModuleState = initstate === 'coming' || initstate === 'going' ? initstate : 'live';
  const refcnt = Number(await readTrimmed(join(dir, 'refcnt')) ?? '0');
  const holders = await readdir(join(dir, 'holders')).catch(() => [] as string[]);
  return { name: canonical, state, refcnt: Number.isFinite(refcnt) ? refcnt : 0, holders: holders.sort() };
}

// Whether the running kernel can load modules at all (/proc/modules exists only with CONFIG_MODULES).
export async function kernelHasModuleSupport(procRoot = '/proc'): Promise<boolean> {
  return readFile(join(procRoot, 'modules')).then(() => true, () => false);
}

// The loaded modules as /proc/modules lists them (newest first); undefined when it cannot be read.
export async function loadedModuleNames(procRoot = '/proc'): Promise<string[] | undefined> {
  try {
    const text = await readFile(join(procRoot, 'modules'), 'utf8');
    return text.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name !== '');
  } catch {
    return undefined;
  }
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}
