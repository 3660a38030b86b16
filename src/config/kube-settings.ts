// An instance's settings for `kvc kube`: what its pods get of a node, which kernels a build serves,
// which in-tree modules it replaces. Parsed from <name>.conf with the other instance keys.
import { ConfigError } from '../errors.js';
import type { ConfFile } from './conf-file.js';

// One node path given to the pods that run the image's tools, or a writable scratch folder.
export type ToolsMount =
  | { readonly kind: 'host'; readonly path: string; readonly readOnly: boolean }
  | { readonly kind: 'scratch'; readonly path: string };

// What the pods that run the image's tools (the tools container, the pre-unload hook) get.
export interface ToolsAccess {
  readonly hostNetwork: boolean;
  readonly mounts: readonly ToolsMount[];
}

// KVC_KUBE_* of one instance, validated.
export interface KubeSettings {
  readonly tools: ToolsAccess;
  // Kernels a build of this instance serves (RE2, as KMM reads it), or undefined.
  readonly kernelRegexp: string | undefined;
  // In-tree modules unloaded before the instance's are loaded.
  readonly inTreeToRemove: readonly string[];
}

// No access, no regexp, nothing replaced: what an instance without KVC_KUBE_* keys gets.
export const NO_KUBE_SETTINGS: KubeSettings = { tools: { hostNetwork: false, mounts: [] }, kernelRegexp: undefined, inTreeToRemove: [] };

const MOUNT = /^(\/[A-Za-z0-9._/-]*):(rw|ro|scratch)$/;
const MODULE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,55}$/;

// What RE2 lacks of JavaScript's regular expressions: lookahead, lookbehind, backreferences.
const RE2_LACKS = /\(\?<?[=!]|\\[1-9]/;

// Validates the KVC_KUBE_* keys of an instance file.
export function kubeSettingsFrom(file: ConfFile): KubeSettings {
  const words = (key: string): string[] => (file.entries.get(key)?.value ?? '').split(/\s+/).filter((word) => word !== '');
  let hostNetwork = false;
  const mounts: ToolsMount[] = [];
  for (const word of words('KVC_KUBE_TOOLS_ACCESS')) {
    if (word === 'host-network') {
      hostNetwork = true;
      continue;
    }
    const match = MOUNT.exec(word);
    const path = match?.[1] ?? '';
    if (match === null || path.split('/').includes('..') || mounts.some((mount) => mount.path === path)) {
      throw new ConfigError(file.path, 'KVC_KUBE_TOOLS_ACCESS', `${JSON.stringify(word)} is not host-network, PATH:rw, PATH:ro or PATH:scratch (an absolute path, each once)`, {
        hint: 'write e.g. KVC_KUBE_TOOLS_ACCESS="host-network /sys:rw /dev:ro /run:scratch"',
      });
    }
    mounts.push(match[2] === 'scratch' ? { kind: 'scratch', path } : { kind: 'host', path, readOnly: match[2] === 'ro' });
  }
  const regexpValue = file.entries.get('KVC_KUBE_KERNEL_REGEXP')?.value.trim() ?? '';
  if (regexpValue !== '') {
    try {
      new RegExp(regexpValue, 'u');
    } catch (error) {
      throw new ConfigError(file.path, 'KVC_KUBE_KERNEL_REGEXP', `is not a regular expression (${(error as Error).message})`, { hint: "write e.g. KVC_KUBE_KERNEL_REGEXP='^[0-9]+\\.[0-9]+\\.[0-9]+-[0-9]+-amd64$'", cause: error });
    }
    // KMM reads it as RE2 (Go's regexp), which has no lookaround and no backreferences.
    if (RE2_LACKS.test(regexpValue)) {
      throw new ConfigError(file.path, 'KVC_KUBE_KERNEL_REGEXP', 'uses lookaround or a backreference, which KMM\'s RE2 does not have', { hint: "write it without (?=, (?!, (?<=, (?<! and \\1…\\9, e.g. KVC_KUBE_KERNEL_REGEXP='^[0-9]+\\.[0-9]+\\.[0-9]+-[0-9]+-amd64$'" });
    }
  }
  const inTreeToRemove = words('KVC_KUBE_IN_TREE_REMOVE');
  for (const module of inTreeToRemove) {
    if (!MODULE.test(module)) {
      throw new ConfigError(file.path, 'KVC_KUBE_IN_TREE_REMOVE', `${JSON.stringify(module)} is not a module name`, { hint: 'list module names separated by spaces, e.g. KVC_KUBE_IN_TREE_REMOVE="mod_a mod_b"' });
    }
  }
  return { tools: { hostNetwork, mounts }, kernelRegexp: regexpValue === '' ? undefined : regexpValue, inTreeToRemove };
}
