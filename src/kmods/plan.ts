// Decides what to load and unload, in which order, from the modules' current state. Pure.
import { kernelModuleName, type ModuleStatus } from '../kernel/module-state.js';

// A module left alone, and why.
export interface Skipped {
  readonly module: string;
  readonly reason: string;
}

// Modules to load in order, and those skipped.
export interface LoadPlan {
  readonly load: readonly string[];
  readonly skipped: readonly Skipped[];
  readonly busy: readonly Skipped[];
}

// Load in the listed order; skip what is loaded or built in; a module half-way in or out is busy.
export function planLoad(modules: readonly string[], status: ReadonlyMap<string, ModuleStatus>): LoadPlan {
  const load: string[] = [];
  const skipped: Skipped[] = [];
  const busy: Skipped[] = [];
  for (const module of modules) {
    const state = status.get(kernelModuleName(module))?.state ?? 'absent';
    if (state === 'absent') load.push(module);
    else if (state === 'live') skipped.push({ module, reason: 'already loaded' });
    else if (state === 'builtin') skipped.push({ module, reason: 'built into the running kernel' });
    else busy.push({ module, reason: `is ${state} (being ${state === 'coming' ? 'loaded' : 'unloaded'} by something else)` });
  }
  return { load, skipped, busy };
}

// A module that may not be unloaded, with what holds it.
export interface Blocked {
  readonly module: string;
  readonly holders: readonly string[];
  readonly otherUsers: number;
}

// Modules to unload in reverse order, those skipped, and those in use by something outside the set.
export interface UnloadPlan {
  readonly unload: readonly string[];
  readonly skipped: readonly Skipped[];
  readonly blocked: readonly Blocked[];
}

// Reverse order; a module is blocked when a module outside the set holds it, or when its
// reference count is more than the holders inside the set account for (a device or file in use).
export function planUnload(modules: readonly string[], status: ReadonlyMap<string, ModuleStatus>): UnloadPlan {
  const unload: string[] = [];
  const skipped: Skipped[] = [];
  const blocked: Blocked[] = [];
  const loadedSet = new Set(
    modules.map(kernelModuleName).filter((name) => status.get(name)?.state === 'live'),
  );
  for (const module of [...modules].reverse()) {
    const name = kernelModuleName(module);
    const current = status.get(name);
    if (current === undefined || current.state === 'absent') {
      skipped.push({ module, reason: 'not loaded' });
      continue;
    }
    if (current.state === 'builtin') {
      skipped.push({ module, reason: 'built into the running kernel, cannot be unloaded' });
      continue;
    }
    const outsideHolders = current.holders.filter((holder) => !loadedSet.has(holder));
    const otherUsers = Math.max(0, current.refcnt - current.holders.length);
    if (outsideHolders.length > 0 || otherUsers > 0 || current.state !== 'live') {
      blocked.push({ module, holders: outsideHolders, otherUsers: otherUsers + (current.state === 'live' ? 0 : 1) });
    }
    unload.push(module);
  }
  return { unload, skipped, blocked };
}

// One line saying what holds a module and how to free it.
export function describeBlocked(blocked: Blocked): string {
  const parts: string[] = [];
  if (blocked.holders.length > 0) parts.push(`held by module${blocked.holders.length > 1 ? 's' : ''} ${blocked.holders.join(', ')}`);
  if (blocked.otherUsers > 0) parts.push(`${blocked.otherUsers} other reference${blocked.otherUsers > 1 ? 's' : ''} (a device, file or process using it)`);
  return `${blocked.module} is in use: ${parts.join(' and ')}`;
}

// The modules in `now` that were not in `before` (both as /proc/modules lists them, newest first),
// in that order: the order to unload them in, dependents before what they depend on.
export function modulesAdded(before: readonly string[], now: readonly string[]): string[] {
  const had = new Set(before);
  return now.filter((name) => !had.has(name));
}

// An unload plan from what kvc's loads recorded (kernel names, newest first), with the modules
// left loaded because something else uses them.
export interface RecordedUnloadPlan extends UnloadPlan {
  readonly kept: readonly Blocked[];
}

// Unloads the recorded modules in their order and nothing else. One of the instance's own
// modules (`own`) in use blocks, as in planUnload; a further module (a dependency, the image's
// load-also) that something outside uses is left loaded, and so is every module it holds.
export function planUnloadRecorded(own: readonly string[], recorded: readonly string[], status: ReadonlyMap<string, ModuleStatus>): RecordedUnloadPlan {
  const ownNames = new Set(own.map(kernelModuleName));
  const spelling = (name: string) => own.find((module) => kernelModuleName(module) === name) ?? name;
  const skipped: Skipped[] = [];
  const present: string[] = [];
  for (const name of recorded) {
    const state = status.get(name)?.state ?? 'absent';
    if (state === 'absent') skipped.push({ module: spelling(name), reason: 'not loaded' });
    else if (state === 'builtin') skipped.push({ module: spelling(name), reason: 'built into the running kernel, cannot be unloaded' });
    else present.push(name);
  }
  // The instance's own modules that something other than kvc loaded stay as they are.
  for (const name of ownNames) {
    if (!recorded.includes(name) && status.get(name)?.state === 'live') skipped.push({ module: spelling(name), reason: 'loaded, but not by kvc: left loaded' });
  }
  const inSet = new Set(present);
  const usage = (name: string): Blocked => {
    const current = status.get(name) as ModuleStatus;
    const otherUsers = Math.max(0, current.refcnt - current.holders.length) + (current.state === 'live' ? 0 : 1);
    return { module: spelling(name), holders: current.holders.filter((holder) => !inSet.has(holder)), otherUsers };
  };
  const used = (entry: Blocked) => entry.holders.length > 0 || entry.otherUsers > 0;
  const kept = new Map<string, Blocked>();
  for (const name of present) if (!ownNames.has(name) && used(usage(name))) kept.set(name, usage(name));
  // A module that a kept module holds stays too (it depends on it).
  for (let grew = true; grew;) {
    grew = false;
    for (const name of present) {
      if (kept.has(name)) continue;
      const keepers = (status.get(name)?.holders ?? []).filter((holder) => kept.has(holder));
      if (keepers.length > 0 && !ownNames.has(name)) {
        kept.set(name, { module: name, holders: keepers, otherUsers: 0 });
        grew = true;
      }
    }
  }
  const blocked: Blocked[] = [];
  for (const name of present) {
    if (!ownNames.has(name)) continue;
    const entry = usage(name);
    const keepers = (status.get(name)?.holders ?? []).filter((holder) => kept.has(holder));
    if (used(entry) || keepers.length > 0) blocked.push({ ...entry, holders: [...new Set([...entry.holders, ...keepers])] });
  }
  return { unload: present.filter((name) => !kept.has(name)).map(spelling), skipped, blocked, kept: [...kept.values()] };
}
