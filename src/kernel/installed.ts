// The kernels installed on the host: those whose module tree under /lib/modules or /usr/lib/modules
// is complete.
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

// A kernel release as a directory name.
export const KERNEL_DIR = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;
// A kernel's files are complete once one of these is there (depmod's output is written last by
// Debian's and Fedora's packages; `build` is the headers' link).
export const COMPLETE_MARKERS = ['modules.dep', 'build', 'vmlinuz'];

// Whether <root>/<kver> holds a complete kernel.
export function kernelDirComplete(dir: string): boolean {
  return COMPLETE_MARKERS.some((marker) => existsSync(join(dir, marker)));
}

// The roots that exist, each once (/lib is a link to /usr/lib on merged-/usr systems).
export function distinctRoots(roots: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const root of roots) {
    if (!existsSync(root)) continue;
    const real = realpathSync(root);
    if (!seen.has(real)) seen.set(real, root);
  }
  return [...seen.keys()];
}

// The module roots of a host root.
export function moduleRoots(hostRoot: string): string[] {
  return [join(hostRoot, 'usr/lib/modules'), join(hostRoot, 'lib/modules')];
}

// Kernels with a complete module tree in any of the roots, left alone since `settledBefore` (ms
// since the epoch: a folder still being written to is being installed); a root that cannot be
// read is skipped.
export function installedKernels(roots: readonly string[], settledBefore = Infinity): string[] {
  const found = new Set<string>();
  for (const root of distinctRoots(roots)) {
    let entries: string[];
    try {
      entries = readdirSync(root);
    } catch {
      continue;
    }
    for (const kver of entries) {
      const dir = join(root, kver);
      if (KERNEL_DIR.test(kver) && kernelDirComplete(dir) && settled(dir, settledBefore)) found.add(kver);
    }
  }
  return [...found];
}

function settled(dir: string, before: number): boolean {
  try {
    return statSync(dir).mtimeMs <= before;
  } catch {
    return false;
  }
}
