// Works out, for one load, which modules come from the host kernel's own tree and which from the
// image (reads the image, the host's tree and /sys; the decision is kmods/sources.ts).
import { KernelRefusedError } from '../errors.js';
import { readHostTree, type HostTree } from '../kmods/host-tree.js';
import { planSources, type SourcesPlan } from '../kmods/sources.js';
import { kernelModuleName } from '../kernel/module-state.js';
import { readSignatureFacts, unsignedModulesRefused } from '../kernel/signature-policy.js';
import { readImageModules } from './image-modules.js';
import type { Context } from './context.js';
import { moduleStatuses } from './modules-state.js';

// The plan, with the host's tree it uses.
export interface LoadSources {
  readonly plan: SourcesPlan;
  readonly host: HostTree | undefined;
}

// Plans the load of `own` (KMOD_NAMES not loaded yet) and the image's further modules; refuses,
// before anything is loaded, what neither the image nor the host's tree has.
export async function loadSources(ctx: Context, image: string, kver: string, own: readonly string[]): Promise<LoadSources> {
  const contents = await readImageModules(ctx, image, kver);
  const host = await readHostTree(ctx.hostRoot, kver);
  const names = new Set([...own, ...contents.loadAlso].map(kernelModuleName));
  for (const [name, deps] of contents.graph) for (const one of [name, ...deps]) names.add(one);
  const status = await moduleStatuses(ctx, [...names]);
  const plan = planSources({ own, also: contents.loadAlso, image: contents.graph, host, state: new Map([...status].map(([name, entry]) => [name, entry.state])) });
  if (plan.missing.length > 0) {
    const where = host === undefined ? `the host has no module tree for ${kver} (/lib/modules/${kver}/modules.dep)` : `nor does the kernel's own tree (${host.dir})`;
    throw new KernelRefusedError(`${image} needs ${plan.missing.join(', ')}, which it does not hold, ${where}`, {
      hint: `install the modules package of kernel ${kver}, or rebuild the image: kvc build <name> ${kver} --force`,
    });
  }
  return { plan, host };
}

// Refuses a load of the image's modules that the kernel would refuse for want of signatures (the
// modules kvc builds are unsigned), before anything is loaded.
export async function assertUnsignedAccepted(ctx: Context, kver: string): Promise<void> {
  const reason = unsignedModulesRefused(await readSignatureFacts(ctx.hostRoot));
  if (reason === undefined) return;
  throw new KernelRefusedError(`kernel ${kver} will not load the unsigned modules kvc builds: ${reason}; nothing was loaded`, {
    hint: 'boot without module.sig_enforce=1, with lockdown=none (or Secure Boot validation off: mokutil --disable-validation); kvc does not sign the modules it builds',
  });
}
