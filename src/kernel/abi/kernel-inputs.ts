// Where a header-less build takes a kernel's three inputs from (issue 21), decided from facts
// gathered elsewhere (ops/kernel-inputs-facts.ts): its source (the distribution's source package of
// the exact version, or the tarball or folder named with --kernel-source), its exact config (the
// search order of config-search.ts, then --kernel-config FILE) and its symbol CRCs (the kernel's
// Module.symvers, else the __versions of its modules installed on this host). Pure: each input that
// is missing or wrong is a typed error naming what is missing and how to get it.
import type { ConfigCandidate } from './config-search.js';

// The kernel's source as the build gets it.
export type SourceOrigin =
  | { readonly kind: 'package'; readonly name: string }
  | { readonly kind: 'tarball'; readonly path: string }
  | { readonly kind: 'dir'; readonly path: string };

// The CRCs as the build gets them.
export type CrcOrigin =
  | { readonly kind: 'package' }
  | { readonly kind: 'symvers'; readonly path: string }
  | { readonly kind: 'modules'; readonly dir: string; readonly count: number };

// What a path the user named is, as the host sees it.
export type PathKind = 'file' | 'dir' | 'missing' | 'other';

// What kvc found out, for the plan.
export interface KernelInputFacts {
  readonly kver: string;
  // --kernel-source PATH (or KVC_KERNEL_SOURCE) and what it is; undefined when not named.
  readonly userSource?: { readonly path: string; readonly kind: PathKind } | undefined;
  // --kernel-config FILE (or KVC_KERNEL_CONFIG) and what it is; undefined when not named.
  readonly userConfig?: { readonly path: string; readonly kind: PathKind } | undefined;
  // The first config of the search order on the host (without the user's file), with its options.
  readonly foundConfig?: { readonly candidate: ConfigCandidate; readonly options: ReadonlyMap<string, string> } | undefined;
  // The options of the user's config file, when it was read.
  readonly userConfigOptions?: ReadonlyMap<string, string> | undefined;
  // The kernel's Module.symvers on this host, when there is one.
  readonly symvers?: string | undefined;
  // The folder of the kernel's installed modules and how many modules it has (0: none).
  readonly modulesDir: string;
  readonly moduleCount: number;
}

// The decision: where each input comes from. `config` undefined and `crcs.kind` 'package': the
// distribution's packages give them (the Debian recipe reads them from linux-image-<kver>).
export interface KernelInputs {
  readonly source: SourceOrigin;
  readonly config: ConfigCandidate | undefined;
  readonly crcs: CrcOrigin;
}

// One input of a header-less build that is missing or wrong, with what to do about it.
export class KernelInputError extends Error {
  readonly input: 'source' | 'config' | 'crcs';
  readonly remedy: string;

  constructor(input: 'source' | 'config' | 'crcs', message: string, remedy: string) {
    super(message);
    this.name = 'KernelInputError';
    this.input = input;
    this.remedy = remedy;
  }
}

// Options a config may differ in without changing the kernel's ABI: those that describe the
// toolchain that ran `make` (they change with the compiler, not with the kernel).
const TOOLCHAIN_OPTION = /^CONFIG_(CC_VERSION_TEXT|GCC_VERSION|AS_VERSION|LD_VERSION|PAHOLE_VERSION|CLANG_VERSION|LLD_VERSION|AS_IS_|LD_IS_|CC_IS_|CC_HAS_|AS_HAS_|TOOLS_SUPPORT_|RUSTC_|BINDGEN_|RUST_IS_)/;

// The options two configs of one kernel disagree on, as `CONFIG_X: a ≠ b` (unset is `n`), sorted;
// toolchain options left out.
export function configDifferences(kernel: ReadonlyMap<string, string>, other: ReadonlyMap<string, string>): string[] {
  const names = new Set([...kernel.keys(), ...other.keys()]);
  const differences: string[] = [];
  for (const name of [...names].sort()) {
    if (TOOLCHAIN_OPTION.test(name)) continue;
    const a = kernel.get(name) ?? 'n';
    const b = other.get(name) ?? 'n';
    if (a !== b) differences.push(`${name}: ${a} ≠ ${b}`);
  }
  return differences;
}

// The source: the user's tarball or folder when named (it must be one), else the package.
function planSource(facts: KernelInputFacts): SourceOrigin {
  const series = /^(\d+\.\d+)/.exec(facts.kver)?.[1] ?? facts.kver;
  const user = facts.userSource;
  if (user === undefined) return { kind: 'package', name: `linux-source-${series}` };
  if (user.kind === 'file') return { kind: 'tarball', path: user.path };
  if (user.kind === 'dir') return { kind: 'dir', path: user.path };
  throw new KernelInputError('source', `--kernel-source ${user.path}: ${user.kind === 'missing' ? 'no such file or folder' : 'neither a file nor a folder'}`,
    `name the kernel ${facts.kver}'s source tarball (linux-*.tar.xz/.gz) or its unpacked source folder`);
}

// The config: the search order first; the user's file when none is found, or checked against the
// one found (a file that disagrees with the kernel's own config would build modules for another kernel).
function planConfig(facts: KernelInputFacts, source: SourceOrigin): ConfigCandidate | undefined {
  const user = facts.userConfig;
  if (user !== undefined && user.kind !== 'file') {
    throw new KernelInputError('config', `--kernel-config ${user.path}: ${user.kind === 'missing' ? 'no such file' : 'not a file'}`, `name kernel ${facts.kver}'s exact config file (its /boot/config-${facts.kver}, or /proc/config.gz of the running kernel, unpacked)`);
  }
  const found = facts.foundConfig;
  if (found !== undefined) {
    if (user !== undefined && facts.userConfigOptions !== undefined) {
      const differences = configDifferences(found.options, facts.userConfigOptions);
      if (differences.length > 0) {
        const shown = differences.slice(0, 5).join(', ') + (differences.length > 5 ? `, and ${differences.length - 5} more` : '');
        throw new KernelInputError('config', `--kernel-config ${user.path} is not the config of kernel ${facts.kver}: it differs from ${found.candidate.path} (${found.candidate.why}) in ${shown}; modules built with it would not match the kernel`,
          `leave --kernel-config out (kvc uses ${found.candidate.path}), or name the config the kernel was built with`);
      }
    }
    return found.candidate;
  }
  if (user !== undefined) return { path: user.path, why: 'named with --kernel-config' };
  // A distribution package gives the config with its source (Debian: linux-image-<kver>).
  if (source.kind === 'package') return undefined;
  throw new KernelInputError('config', `no config of kernel ${facts.kver}: not in /proc/config.gz (when running), /boot/config-${facts.kver} or /lib/modules/${facts.kver}/config`,
    `name it: --kernel-config FILE (the kernel's own .config, as its builder kept it)`);
}

// The CRCs: the kernel's Module.symvers, else its installed modules' __versions (a user source
// needs one of them; a distribution source takes them from the distribution's image package).
function planCrcs(facts: KernelInputFacts, source: SourceOrigin): CrcOrigin {
  if (facts.symvers !== undefined) return { kind: 'symvers', path: facts.symvers };
  if (facts.moduleCount > 0) return { kind: 'modules', dir: facts.modulesDir, count: facts.moduleCount };
  if (source.kind === 'package') return { kind: 'package' };
  throw new KernelInputError('crcs', `no symbol CRCs of kernel ${facts.kver}: no Module.symvers and no modules in ${facts.modulesDir}`,
    `install the kernel's modules in ${facts.modulesDir} (their __versions hold the CRCs), or build on the host that runs ${facts.kver}`);
}

// Where the build takes the kernel's source, config and CRCs from; throws KernelInputError.
export function planKernelInputs(facts: KernelInputFacts): KernelInputs {
  const source = planSource(facts);
  const config = planConfig(facts, source);
  const crcs = planCrcs(facts, source);
  return { source, config, crcs };
}

// The upstream version a kernel .config says it is for (`# Linux/x86 6.1.158 Kernel Configuration`).
export function configKernelVersion(text: string): string | undefined {
  return /^# Linux\/\S+ (\d+\.\d+(?:\.\d+)?)\S* Kernel Configuration$/m.exec(text)?.[1];
}
