// The host kernel's own module tree (/lib/modules/<kver> or /usr/lib/modules/<kver>): which
// modules it has and which are built in, read from depmod's files. Parsing is pure.
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { moduleNameOfPath, parseModulesDep } from '../kernel/modules-dep.js';

// What the host's tree offers, in the kernel's spelling of names.
export interface HostTree {
  // The folder, symbolic links resolved (the load container mounts it read-only).
  readonly dir: string;
  readonly modules: ReadonlySet<string>;
  readonly builtin: ReadonlySet<string>;
  // Each module's dependencies, from modules.dep.
  readonly deps: ReadonlyMap<string, readonly string[]>;
}

// Reads the host's tree for kver; undefined when neither folder has a modules.dep.
export async function readHostTree(hostRoot: string, kver: string): Promise<HostTree | undefined> {
  for (const base of ['lib/modules', 'usr/lib/modules']) {
    const dir = join(hostRoot, base, kver);
    if (!existsSync(join(dir, 'modules.dep'))) continue;
    const dep = await readFile(join(dir, 'modules.dep'), 'utf8');
    const builtin = await readFile(join(dir, 'modules.builtin'), 'utf8').catch(() => '');
    const deps = parseModulesDep(dep);
    return {
      dir: realpathSync(dir),
      modules: new Set(deps.keys()),
      deps,
      builtin: new Set(builtin.split('\n').filter((line) => line.trim() !== '').map(moduleNameOfPath)),
    };
  }
  return undefined;
}
