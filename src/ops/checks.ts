// `kvc check`: the preflight, as a pure evaluation of facts gathered from the host (check-facts.ts),
// tested on data. Each check says ok, warn or fail, and what to do.
import { ExitStatus } from '../errors.js';
import type { RecipePlan } from '../kernel/abi/recipe-plan.js';

// One check's verdict.
export interface CheckResult {
  readonly level: 'ok' | 'warn' | 'fail';
  // What was checked: runtime, storage, config, devices, kernel, config of the kernel, built in, disk.
  readonly topic: 'runtime' | 'storage' | 'config' | 'devices' | 'kernel' | 'signing key' | 'kernel config' | 'headers' | 'recipe' | 'built in' | 'disk' | 'sources' | 'apparmor';
  readonly what: string;
  // What the user should do; absent when nothing.
  readonly todo?: string;
}

// What check-facts.ts found (undefined: could not be learnt).
export interface CheckFacts {
  readonly runtime: { readonly name: string; readonly version?: string; readonly storage?: string; readonly error?: string };
  // The runtime's storage: whether root may write it, and the free bytes of its file system.
  readonly storage?: { readonly path: string; readonly writable: boolean; readonly freeBytes: number | undefined };
  // Every configuration error found (all files, every line), and the instances checked.
  readonly configErrors: readonly string[];
  readonly instances: readonly string[];
  // Per instance with a device manager: its file, and why it is not fit (mode, owner, content).
  readonly devices: readonly { readonly instance: string; readonly path: string; readonly problem?: string; readonly present: boolean }[];
  // Sources the service would rebuild from without a person (see unattended-sources.ts).
  readonly unattended: readonly { readonly instance: string; readonly problem: string }[];
  // The host's AppArmor (host/apparmor.ts): whether the kernel enforces it and where its parser is.
  readonly appArmor?: { readonly enabled: boolean; readonly parser: string | undefined };
  readonly kernel: {
    readonly kver: string;
    readonly running: boolean;
    // /proc/modules exists (the running kernel has module support).
    readonly moduleSupport?: boolean;
    // /proc/sys/kernel/modules_disabled.
    readonly modulesDisabled?: string;
    // Why unsigned modules are refused (signature-policy.ts), if they are.
    readonly unsignedRefused?: string;
    readonly secureBoot?: boolean;
    readonly lockdown?: string;
    // Where the kernel refuses unsigned modules: the key kvc signs with (its subject, or none yet),
    // whether the running kernel trusts it, and kvc key status's next step.
    readonly signing?: { readonly key: string | null; readonly trusted: 'yes' | 'no' | 'unknown'; readonly next: string };
    // The kernel's config file, and why the instance's modules cannot go in (refusalReason).
    readonly configSource?: string;
    readonly configRefusal?: string;
    // /lib/modules/<kver>/build exists.
    readonly headers: boolean;
    // Which recipe the kernel gets and why (ops/recipe-facts.ts), where it was worked out.
    readonly recipe?: RecipePlan;
    // Modules of the instances that this kernel has built in.
    readonly builtIn: readonly string[];
  };
}

const GB = 1e9;
// Below this a build of the USB/IP image (about 1 GB of layers on the way) is likely to fail.
export const MIN_FREE_BYTES = 2 * GB;
// Below this kvc warns.
export const LOW_FREE_BYTES = 5 * GB;

// The verdicts, in the order shown. Pure.
export function evaluateChecks(facts: CheckFacts): CheckResult[] {
  const results: CheckResult[] = [];
  const add = (result: CheckResult): void => { results.push(result); };
  const { runtime, kernel } = facts;
  if (runtime.error !== undefined) add({ level: 'fail', topic: 'runtime', what: runtime.error, todo: `install ${runtime.name} (or set KVC_CONTAINER_RUNTIME in kvc.conf), then run kvc check again` });
  else add({ level: 'ok', topic: 'runtime', what: `${runtime.name} ${runtime.version ?? ''} answers`.replace('  ', ' ') });

  if (facts.storage !== undefined) {
    const { path, writable, freeBytes } = facts.storage;
    add(writable ? { level: 'ok', topic: 'storage', what: `${path} is writable` } : { level: 'fail', topic: 'storage', what: `${path} is not writable`, todo: 'run kvc as root, on a host whose container storage is not read-only' });
    if (freeBytes !== undefined) {
      const free = `${(freeBytes / GB).toFixed(1)} GB free in ${path}`;
      if (freeBytes < MIN_FREE_BYTES) add({ level: 'fail', topic: 'disk', what: `${free}: a build needs about ${MIN_FREE_BYTES / GB} GB`, todo: `free space (${runtime.name} image prune removes unused images)` });
      else if (freeBytes < LOW_FREE_BYTES) add({ level: 'warn', topic: 'disk', what: `${free}: enough for a build, little for several kernels`, todo: `keep an eye on it (${runtime.name} system df)` });
      else add({ level: 'ok', topic: 'disk', what: free });
    }
  }

  for (const error of facts.configErrors) add({ level: 'fail', topic: 'config', what: error });
  if (facts.configErrors.length === 0) {
    add(facts.instances.length === 0
      ? { level: 'warn', topic: 'config', what: 'no instances are configured', todo: 'put a <name>.conf in the configuration folder (make install puts usbip.conf there)' }
      : { level: 'ok', topic: 'config', what: `valid: ${facts.instances.join(', ')}` });
  }
  for (const device of facts.devices) {
    if (device.problem !== undefined) add({ level: 'fail', topic: 'devices', what: device.problem.startsWith(device.path) ? device.problem : `${device.path}: ${device.problem}` });
    else add({ level: 'ok', topic: 'devices', what: device.present ? `${device.path} is valid, owned by root, written by root only` : `${device.instance}: no ${device.path}: the service manages no devices` });
  }
  for (const source of facts.unattended) add({ level: 'warn', topic: 'sources', what: `${source.instance}: ${source.problem}` });
  if (facts.appArmor?.enabled === true) {
    add(facts.appArmor.parser !== undefined
      ? { level: 'ok', topic: 'apparmor', what: `on: kvc runs each instance's tools and daemons under its own profile kvc-<name> (loaded with ${facts.appArmor.parser}), which lets them write only the sysfs files each instance's KVC_TOOLS_SYSFS_WRITES lists (all of /sys but cgroups, power, debug and trace where an instance lists none)` }
      : { level: 'warn', topic: 'apparmor', what: `on, but apparmor_parser is not installed: kvc cannot load its profile for the tools (${runtime.name === 'docker' ? 'docker then starts none of their containers' : 'podman then runs them with no AppArmor profile'})`, todo: 'install apparmor (Debian, Ubuntu: apt install apparmor)' });
  }

  if (kernel.running) {
    if (kernel.moduleSupport === false) add({ level: 'fail', topic: 'kernel', what: `kernel ${kernel.kver} has no loadable module support (no /proc/modules)`, todo: 'boot a kernel built with CONFIG_MODULES=y' });
    else if (kernel.modulesDisabled?.trim() === '1') add({ level: 'fail', topic: 'kernel', what: `kernel ${kernel.kver} refuses all module loads (kernel.modules_disabled=1, until the next boot)`, todo: 'reboot without setting kernel.modules_disabled (sysctl.d)' });
    else if (kernel.unsignedRefused !== undefined) add({ level: 'warn', topic: 'kernel', what: `kernel ${kernel.kver}: ${kernel.unsignedRefused}: it loads only modules signed by a key it trusts`, todo: 'kvc signs the modules it builds (kvc key status says with which key and whether this kernel trusts it; kvc key enroll, then reboot, when it does not)' });
    else add({ level: 'ok', topic: 'kernel', what: `kernel ${kernel.kver} takes modules${kernel.secureBoot === true ? ' (Secure Boot on, not enforcing signatures)' : ''}${kernel.lockdown === undefined ? '' : `; lockdown: ${kernel.lockdown}`}` });
  }
  const signing = kernel.running && kernel.unsignedRefused !== undefined ? kernel.signing : undefined;
  if (signing !== undefined) {
    if (signing.key === null) add({ level: 'warn', topic: 'signing key', what: 'none yet: kvc creates its own at the first build for this kernel', todo: 'kvc key create, then kvc key enroll and reboot (MokManager asks you to confirm it)' });
    else if (signing.trusted === 'yes') add({ level: 'ok', topic: 'signing key', what: `${signing.key}: the running kernel trusts it` });
    else if (signing.trusted === 'no') add({ level: 'fail', topic: 'signing key', what: `${signing.key}: the running kernel does not trust it, so it refuses the modules kvc signs with it`, todo: signing.next });
    else add({ level: 'warn', topic: 'signing key', what: `${signing.key}: whether the running kernel trusts it is not known`, todo: signing.next });
  }
  // No module support is said once, by the kernel's own check.
  if (kernel.configRefusal !== undefined && kernel.moduleSupport === false && kernel.configRefusal.includes('CONFIG_MODULES')) {
    // said above
  } else if (kernel.configRefusal !== undefined) add({ level: 'fail', topic: 'kernel config', what: `kernel ${kernel.kver}: ${kernel.configRefusal}`, todo: 'use a kernel built with those options' });
  else if (kernel.configSource !== undefined) add({ level: 'ok', topic: 'kernel config', what: `${kernel.configSource} has what the instances require` });
  else add({ level: 'warn', topic: 'kernel config', what: `no config of kernel ${kernel.kver} here (/boot/config-${kernel.kver}${kernel.running ? ', /proc/config.gz' : ''})`, todo: 'kvc cannot check the kernel\'s options before a build: install the kernel\'s package, which ships its config' });
  add(kernel.headers
    ? { level: 'ok', topic: 'headers', what: `headers of ${kernel.kver} are installed (/lib/modules/${kernel.kver}/build); the image's build fetches its own` }
    : { level: 'ok', topic: 'headers', what: `no headers of ${kernel.kver} on the host: not needed, the image's build installs the distribution's package` });
  if (kernel.recipe !== undefined) add(recipeCheck(kernel.kver, kernel.recipe));
  if (kernel.builtIn.length > 0) add({ level: 'warn', topic: 'built in', what: `kernel ${kernel.kver} has ${kernel.builtIn.join(', ')} built in: kvc skips loading them`, todo: 'nothing, unless you meant to replace them' });
  return results;
}

// kvc check's exit status: 0 when nothing failed; else 78 for a configuration, 77 for a kernel
// that refuses, 69 for anything else missing.
export function checkExit(results: readonly CheckResult[]): number {
  const failed = results.filter((result) => result.level === 'fail');
  if (failed.length === 0) return ExitStatus.ok;
  if (failed.some((result) => result.topic === 'config' || result.topic === 'devices')) return ExitStatus.config;
  if (failed.some((result) => result.topic === 'kernel' || result.topic === 'kernel config' || result.topic === 'signing key')) return ExitStatus.refused;
  return ExitStatus.unavailable;
}

// One line per result: "ok    runtime: podman 4.3.1 answers", "FAIL  kernel: …; do: …".
export function formatChecks(results: readonly CheckResult[]): string {
  const word = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
  return results.map((result) => `${word[result.level]}  ${result.topic}: ${result.what}${result.todo === undefined ? '' : `; do: ${result.todo}`}`).join('\n');
}

// `kvc check`'s line on which recipe a kernel gets and why (issue 21).
// The verdict: ok when a recipe can build the kernel, warn (with what to get) when only a headers
// package the host does not show could.
export function recipeCheck(kver: string, plan: RecipePlan): CheckResult {
  const why = plan.reasons.join('; ');
  if (plan.recipe === 'headers') return { level: 'ok', topic: 'recipe', what: `kernel ${kver}: headers recipe (${why})` };
  if (plan.recipe === 'source' && plan.missing.length > 0) {
    return {
      level: 'warn', topic: 'recipe',
      what: `kernel ${kver}: header-less recipe (${why}), which lacks ${plan.missing.map((item) => item.what).join(', ')}`,
      todo: plan.missing.map((item) => item.remedy).join('; '),
    };
  }
  if (plan.recipe === 'source') {
    return { level: 'ok', topic: 'recipe', what: `kernel ${kver}: headers recipe where the package sources have its headers package, else the header-less recipe (Containerfile.*-source) builds it (${why})` };
  }
  return {
    level: 'warn', topic: 'recipe',
    what: `kernel ${kver}: only a headers package in the package sources can build it (${why}); the header-less recipe lacks ${plan.missing.map((item) => item.what).join(', ')}`,
    todo: plan.missing.map((item) => item.remedy).join('; '),
  };
}
