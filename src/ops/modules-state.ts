// The running kernel's state of a list of modules, keyed by the kernel's spelling of their names.
import { kernelModuleName, readModuleStatus, type ModuleStatus } from '../kernel/module-state.js';
import { sysRoot, type Context } from './context.js';

// Reads the state of each module from the host's /sys/module.
export async function moduleStatuses(ctx: Context, modules: readonly string[]): Promise<Map<string, ModuleStatus>> {
  const entries = await Promise.all(modules.map(async (module) => [kernelModuleName(module), await readModuleStatus(module, sysRoot(ctx))] as const));
  return new Map(entries);
}
