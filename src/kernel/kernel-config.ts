// Finds a kernel's build configuration and decides whether it can take an instance's modules.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';

// Where a kernel's config was found and what it sets.
export interface KernelConfig {
  readonly source: string;
  readonly options: ReadonlyMap<string, string>;
}

// Candidate places for kver's config, most specific first; `root` is the host's root (tests use a copy).
export function kernelConfigCandidates(kver: string, running: boolean, root = '/'): string[] {
  const candidates = [
    join(root, 'lib/modules', kver, 'config'),
    join(root, 'usr/lib/modules', kver, 'config'),
    join(root, 'boot', `config-${kver}`),
    join(root, 'lib/modules', kver, 'build/.config'),
    join(root, 'usr/src', `linux-headers-${kver}`, '.config'),
    join(root, 'usr/src/kernels', kver, '.config'),
  ];
  if (running) candidates.push(join(root, 'proc/config.gz'));
  return candidates;
}

// Parses a kernel .config: `CONFIG_X=y`, `CONFIG_X=m`, `# CONFIG_X is not set`. Pure, for tests.
export function parseKernelConfig(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set !== null) {
      options.set(set[1] as string, set[2] as string);
      continue;
    }
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset !== null) options.set(unset[1] as string, 'n');
  }
  return options;
}

// The first config found for kver, or undefined when the host has none for it.
export async function findKernelConfig(kver: string, running: boolean, root = '/'): Promise<KernelConfig | undefined> {
  for (const candidate of kernelConfigCandidates(kver, running, root)) {
    let bytes: Buffer;
    try {
      bytes = await readFile(candidate);
    } catch {
      continue;
    }
    const text = candidate.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
    return { source: candidate, options: parseKernelConfig(text) };
  }
  return undefined;
}

// Why a kernel with this config cannot take modules that need `required`; undefined when it can.
export function refusalReason(config: KernelConfig, required: readonly string[]): string | undefined {
  if (config.options.get('CONFIG_MODULES') !== 'y') {
    return `it has no loadable module support (CONFIG_MODULES is not set in ${config.source})`;
  }
  const missing = required.filter((option) => {
    const value = config.options.get(option);
    return value !== 'y' && value !== 'm';
  });
  if (missing.length > 0) {
    return `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in ${config.source}`;
  }
  return undefined;
}
