// Refuses a kernel that cannot take an instance's modules, before anything is built or loaded.
import { KernelRefusedError, UsageError } from '../errors.js';
import { findKernelConfig, refusalReason } from '../kernel/kernel-config.js';
import { kernelHasModuleSupport } from '../kernel/module-state.js';
import type { InstanceSettings } from '../config/settings.js';
import { procRoot, type Context } from './context.js';

// Throws KernelRefusedError with the reason; logs when the host has no config to check against.
export async function assertKernelCanTake(ctx: Context, settings: InstanceSettings, kver: string): Promise<void> {
  const running = kver === ctx.runningKernel;
  if (running && !(await kernelHasModuleSupport(procRoot(ctx)))) {
    throw new KernelRefusedError(`kernel ${kver} cannot take ${settings.name}'s modules: it has no loadable module support (no /proc/modules)`, {
      hint: 'boot a kernel built with CONFIG_MODULES=y',
    });
  }
  const config = await findKernelConfig(kver, running, ctx.hostRoot);
  if (config === undefined) {
    ctx.logger.verbose(`no kernel config for ${kver} on this host; the build itself will check the kernel's headers`);
    return;
  }
  const reason = refusalReason(config, settings.kernelRequires);
  if (reason !== undefined) {
    throw new KernelRefusedError(`kernel ${kver} cannot take ${settings.name}'s modules: ${reason}`, {
      hint: 'use a kernel built with those options, or check KMOD_KERNEL_REQUIRES in ' + settings.confPath,
    });
  }
}

// Throws unless kver is the running kernel: modules only load into the kernel they were built for.
// Naming another kernel is a mistake on the command line (64), not a kernel's refusal.
export function assertRunningKernel(ctx: Context, kver: string, action: string): void {
  if (kver !== ctx.runningKernel) {
    throw new UsageError(`cannot ${action} modules for ${kver}: the running kernel is ${ctx.runningKernel}`, {
      hint: `give the running kernel, e.g. $(uname -r); build for ${kver} with \`kvc build\` and load after booting it`,
    });
  }
}
