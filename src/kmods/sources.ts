// Where each module of a load comes from: the host kernel's own tree or the image. The instance's
// own modules (KMOD_NAMES) are always the image's; for every other module the host's tree has,
// the host's copy is loaded, never the image's. Pure: the states and trees are given as data.
import { kernelModuleName, type ModuleState } from '../kernel/module-state.js';

// What the plan is given, every name in the kernel's spelling.
export interface SourcesInput {
  // The instance's own modules (KMOD_NAMES) to load: always the image's.
  readonly own: readonly string[];
  // Further modules the image asks for (/usr/lib/kvc/load-also), to load after them.
  readonly also: readonly string[];
  // The image's modules, each with the modules it depends on (its modinfo "depends").
  readonly image: ReadonlyMap<string, readonly string[]>;
  // The host tree's modules and built-in modules; undefined when the host has no tree for the kernel.
  readonly host: { readonly modules: ReadonlySet<string>; readonly builtin: ReadonlySet<string>; readonly deps?: ReadonlyMap<string, readonly string[]> } | undefined;
  // The running kernel's state of any module named above (absent when not listed).
  readonly state: ReadonlyMap<string, ModuleState>;
}

// Three modprobe runs, in this order; any of them may be empty.
export interface SourcesPlan {
  // In-tree modules the image's modules need and the image does not bring, from the host's tree.
  readonly hostFirst: readonly string[];
  // From the image (modprobe there pulls in their dependencies that the image holds).
  readonly image: readonly string[];
  // Further modules the host's tree has (after the image's, which they may need).
  readonly hostAfter: readonly string[];
  // Further modules skipped (loaded or built in), and why.
  readonly skipped: readonly { readonly module: string; readonly reason: string }[];
  // Modules needed that neither the image nor the host's tree has (own modules the image lacks too).
  readonly missing: readonly string[];
  // Every module the load may bring in (those above and their dependencies in either tree): what
  // appears in /proc/modules meanwhile and is not among them was loaded by something else.
  readonly closure: ReadonlySet<string>;
}

// Splits a load between the host's tree and the image.
export function planSources(input: SourcesInput): SourcesPlan {
  const stateOf = (name: string) => input.state.get(name) ?? 'absent';
  const inHost = (name: string) => input.host?.modules.has(name) === true;
  const inBuiltin = (name: string) => input.host?.builtin.has(name) === true || stateOf(name) === 'builtin';
  const hostFirst: string[] = [];
  const image: string[] = [];
  const hostAfter: string[] = [];
  const skipped: { module: string; reason: string }[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  // A dependency of an image module: present, the host's, or the image's (then its own dependencies).
  const need = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    if (stateOf(name) === 'live' || inBuiltin(name)) return;
    if (inHost(name)) hostFirst.push(name);
    else if (input.image.has(name)) for (const dep of input.image.get(name) ?? []) need(dep);
    else missing.push(name);
  };
  // Names keep the spelling they were given in; lookups use the kernel's.
  const fromImage = (module: string): void => {
    const name = kernelModuleName(module);
    if (input.image.size > 0 && !input.image.has(name)) {
      missing.push(module);
      return;
    }
    image.push(module);
    seen.add(name);
    for (const dep of input.image.get(name) ?? []) need(dep);
  };
  for (const module of input.own) fromImage(module);
  for (const module of input.also) {
    const name = kernelModuleName(module);
    if ([...image, ...hostAfter].some((other) => kernelModuleName(other) === name)) continue;
    if (stateOf(name) === 'live') skipped.push({ module, reason: 'already loaded' });
    else if (inBuiltin(name)) skipped.push({ module, reason: 'built into the running kernel' });
    else if (inHost(name)) hostAfter.push(module);
    else if (input.image.has(name)) fromImage(module);
    else missing.push(module);
  }
  const inImageList = new Set(image.map(kernelModuleName));
  const closure = new Set<string>();
  const reach = (name: string): void => {
    if (closure.has(name)) return;
    closure.add(name);
    for (const dep of [...(input.image.get(name) ?? []), ...(input.host?.deps?.get(name) ?? [])]) reach(kernelModuleName(dep));
  };
  for (const module of [...hostFirst, ...image, ...hostAfter]) reach(kernelModuleName(module));
  return { hostFirst: hostFirst.filter((name) => !inImageList.has(name)), image, hostAfter, skipped, missing, closure };
}
