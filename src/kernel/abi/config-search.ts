// Where a header-less build finds the kernel's exact config, in the order issue 21 sets:
// /proc/config.gz when the kernel is the running one, /boot/config-K, /lib/modules/K/config, then
// the file the user names (--kernel-config). Pure: the reader is passed in.
import { join } from 'node:path';

// One place a config may be, and why it is looked at.
export interface ConfigCandidate {
  readonly path: string;
  readonly why: string;
}

// What the search knows of the kernel.
export interface ConfigSearch {
  readonly kver: string;
  // kver is the running kernel (its /proc/config.gz is its config).
  readonly running: boolean;
  // The host's root (tests use a copy).
  readonly root: string;
  // --kernel-config FILE, when given.
  readonly explicit?: string | undefined;
  // Who named it, when not the command line (e.g. "KVC_KERNEL_CONFIG in usbip.conf").
  readonly explicitBy?: string | undefined;
}

// The candidates in order.
export function configSearchOrder(search: ConfigSearch): ConfigCandidate[] {
  const candidates: ConfigCandidate[] = [];
  if (search.running) candidates.push({ path: join(search.root, 'proc/config.gz'), why: `the running kernel's own config (CONFIG_IKCONFIG_PROC)` });
  candidates.push({ path: join(search.root, 'boot', `config-${search.kver}`), why: `installed with kernel ${search.kver}` });
  candidates.push({ path: join(search.root, 'lib/modules', search.kver, 'config'), why: `installed with the modules of ${search.kver}` });
  if (search.explicit !== undefined) candidates.push({ path: search.explicit, why: `named with ${search.explicitBy ?? '--kernel-config'}` });
  return candidates;
}

// The first candidate `exists` says is there, or undefined (then the config is missing).
export function firstConfig(search: ConfigSearch, exists: (path: string) => boolean): ConfigCandidate | undefined {
  return configSearchOrder(search).find((candidate) => exists(candidate.path));
}
