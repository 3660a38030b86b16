// `kvc load` and `kvc unload`: modprobe and rmmod run inside the instance's image.
import { ImageMissingError, ImageNotFoundError, ModuleInUseError, ModuleLoadError, RuntimeError } from '../errors.js';
import type { InstanceSettings } from '../config/settings.js';
import { checkKernelRelease } from '../kernel/release.js';
import { kernelModuleName, loadedModuleNames, readModuleStatus, type ModuleStatus } from '../kernel/module-state.js';
import { describeBlocked, modulesAdded, planLoad, planUnload, type Blocked } from '../kmods/plan.js';
import { lastKernelLineAbout } from '../kernel/kmsg.js';
import { imageName, procRoot, sysRoot, type Context } from './context.js';
import { assertKernelCanTake, assertRunningKernel } from './kernel-check.js';
import { startTools, stopTools } from './tools.js';

// What a load or unload did.
export interface ModulesOutcome {
  readonly changed: readonly string[];
  readonly skipped: readonly string[];
}

// Reads the state of each of the instance's modules.
export async function moduleStatuses(ctx: Context, modules: readonly string[]): Promise<Map<string, ModuleStatus>> {
  const entries = await Promise.all(modules.map(async (module) => [kernelModuleName(module), await readModuleStatus(module, sysRoot(ctx))] as const));
  return new Map(entries);
}

async function requireImage(ctx: Context, settings: InstanceSettings, kver: string): Promise<string> {
  const image = imageName(settings, kver);
  if (!ctx.runtime.dryRun && (await ctx.runtime.inspectImage(image)) === undefined) {
    throw new ImageMissingError(`there is no image ${image} for kernel ${kver}`, { hint: `build it first: kvc build ${settings.name} ${kver}` });
  }
  return image;
}

// How a load is run.
export interface LoadOptions {
  // Skip asking the runtime whether the image exists: modprobe's own run tells (ImageMissingError).
  readonly tryImage?: boolean;
  // Start the tools container afterwards (the service starts it after reporting ready).
  readonly startTools?: boolean;
}

// The image is missing, or lacks a module of KMOD_NAMES (the configuration changed since it was built).
export { ImageMissingError };

// Loads KMOD_NAMES in order with modprobe from the image; skips loaded and built-in modules.
// When the kernel refuses one, the modules this call loaded are unloaded again.
export async function loadModules(ctx: Context, settings: InstanceSettings, kver: string, options: LoadOptions = {}): Promise<ModulesOutcome> {
  checkKernelRelease(kver);
  assertRunningKernel(ctx, kver, 'load');
  await assertKernelCanTake(ctx, settings, kver);
  const image = options.tryImage === true ? imageName(settings, kver) : await requireImage(ctx, settings, kver);
  const before = await moduleStatuses(ctx, settings.modules);
  const loadedBefore = await loadedModuleNames(procRoot(ctx));
  const plan = planLoad(settings.modules, before);
  if (plan.busy.length > 0) {
    const first = plan.busy[0]!;
    throw new ModuleLoadError(`${first.module} ${first.reason}`, { hint: 'wait a moment and try again' });
  }
  for (const skipped of plan.skipped) ctx.logger.info(`${skipped.module}: ${skipped.reason}, skipped`);
  if (plan.load.length > 0) {
    try {
      await ctx.runtime.runModuleCommand(image, ['modprobe', '--all', '--', ...plan.load], `loading ${plan.load.join(', ')}`);
    } catch (error) {
      const stale = imageLacks(error);
      if (stale !== undefined) {
        await rollBack(ctx, image, settings.modules, before, loadedBefore);
        throw new ImageMissingError(`${image} ${stale}`, { hint: `build it: kvc build ${settings.name} ${kver} --force`, cause: error });
      }
      const failed = await firstNotLive(ctx, plan.load);
      const kernelSays = lastKernelLineAbout(plan.load.flatMap((module) => [module, kernelModuleName(module)]));
      await rollBack(ctx, image, settings.modules, before, loadedBefore);
      throw new ModuleLoadError(`loading ${failed ?? plan.load.join(', ')} into ${kver} failed: ${error instanceof Error ? error.message : String(error)}${kernelSays === undefined ? '' : ` (kernel: ${kernelSays})`}`, {
        hint: 'nothing this command loaded was left loaded; see `dmesg` for the kernel\'s side',
        cause: error,
      });
    }
    if (!ctx.runtime.dryRun) {
      const after = await moduleStatuses(ctx, plan.load);
      const missing = plan.load.filter((module) => after.get(kernelModuleName(module))?.state !== 'live');
      if (missing.length > 0) {
        await rollBack(ctx, image, settings.modules, before, loadedBefore);
        throw new ModuleLoadError(`modprobe succeeded but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not live in /sys/module`, { hint: 'see `dmesg`' });
      }
    }
    ctx.logger.info(`loaded ${plan.load.join(', ')} into ${kver}`);
  }
  if (options.startTools !== false) await startTools(ctx, settings, kver);
  return { changed: plan.load, skipped: plan.skipped.map((item) => item.module) };
}

// What is missing when modprobe's container could not find the image or a module in it.
function imageLacks(error: unknown): string | undefined {
  if (error instanceof ImageNotFoundError) return 'does not exist';
  if (!(error instanceof RuntimeError)) return undefined;
  // modprobe's own words, passed through by the runtime.
  const module = /modprobe: FATAL: Module (\S+) not found/.exec(error.stderrTail);
  return module === null ? undefined : `has no module ${module[1]}`;
}

// The first module of `modules` that is not live now (the one the kernel refused).
async function firstNotLive(ctx: Context, modules: readonly string[]): Promise<string | undefined> {
  if (ctx.runtime.dryRun) return undefined;
  const now = await moduleStatuses(ctx, modules);
  return modules.find((module) => now.get(kernelModuleName(module))?.state !== 'live');
}

// Unloads what a failed load added, newest first, so the kernel is as it was: every module that
// appeared in /proc/modules since (modprobe's dependencies too), else the instance's own modules.
async function rollBack(ctx: Context, image: string, modules: readonly string[], before: ReadonlyMap<string, ModuleStatus>, loadedBefore: readonly string[] | undefined): Promise<void> {
  if (ctx.runtime.dryRun) return;
  const loadedNow = await loadedModuleNames(procRoot(ctx));
  let added: string[];
  if (loadedBefore !== undefined && loadedNow !== undefined) {
    added = modulesAdded(loadedBefore, loadedNow);
  } else {
    const now = await moduleStatuses(ctx, modules);
    added = [...modules].reverse().map(kernelModuleName).filter((name) => before.get(name)?.state === 'absent' && now.get(name)?.state === 'live');
  }
  if (added.length === 0) return;
  ctx.logger.warn(`rolling back: unloading ${added.join(', ')}`);
  await ctx.runtime.runModuleCommand(image, ['rmmod', '--', ...added], 'rolling back').catch((error: unknown) => {
    ctx.logger.error(`roll-back failed, ${added.join(', ')} may still be loaded: ${error instanceof Error ? error.message : String(error)}`);
  });
}

// Where an image may keep a hook kvc runs before unloading (an extension of the bash KVC's contract).
export const PRE_UNLOAD_HOOK = '/usr/lib/kvc/pre-unload';

// Runs the image's pre-unload hook (/usr/lib/kvc/pre-unload) when it has one: it frees what uses
// the modules (USB/IP: detaches vhci ports and unbinds devices from usbip-host).
async function runPreUnloadHook(ctx: Context, image: string): Promise<void> {
  const result = await ctx.runtime.runHook(image, [PRE_UNLOAD_HOOK]);
  if (result.exitCode === 127 || result.exitCode === 126) return;
  for (const line of `${result.stdout}\n${result.stderr}`.split('\n')) if (line.trim() !== '') ctx.logger.info(`pre-unload: ${line}`);
  if (result.exitCode !== 0) ctx.logger.warn(`the image's pre-unload hook exited ${result.exitCode}`);
}

function refuseBlocked(blocked: readonly Blocked[], afterHook: boolean): void {
  if (blocked.length === 0) return;
  throw new ModuleInUseError(`${blocked.map(describeBlocked).join('; ')}${afterHook ? ' (it was taken while the pre-unload hook ran; nothing was unloaded)' : ''}`, {
    hint: 'stop what uses it (for USB/IP: `usbip detach -p <port>`, `usbip unbind -b <busid>`), or pass --force',
  });
}

// Unloads KMOD_NAMES in reverse order; refuses a module something else uses unless forced.
export async function unloadModules(ctx: Context, settings: InstanceSettings, kver: string, options: { force?: boolean } = {}): Promise<ModulesOutcome> {
  checkKernelRelease(kver);
  assertRunningKernel(ctx, kver, 'unload');
  const image = await requireImage(ctx, settings, kver);
  // Planned and refused before the pre-unload hook runs: a refused unload changes nothing.
  const first = planUnload(settings.modules, await moduleStatuses(ctx, settings.modules));
  if (options.force !== true) refuseBlocked(first.blocked, false);
  if (first.unload.length > 0) await runPreUnloadHook(ctx, image);
  const plan = planUnload(settings.modules, await moduleStatuses(ctx, settings.modules));
  for (const skipped of plan.skipped) ctx.logger.info(`${skipped.module}: ${skipped.reason}, skipped`);
  // Something took a module between the plan and now (the hook ran; nothing is unloaded).
  if (options.force !== true) refuseBlocked(plan.blocked, true);
  for (const blocked of plan.blocked) ctx.logger.warn(`--force: unloading ${describeBlocked(blocked)}`);
  // The tools container holds no module; failing to remove it must not keep the modules loaded.
  await stopTools(ctx, settings.name).catch((error: unknown) => ctx.logger.warn(`could not remove the tools container: ${error instanceof Error ? error.message : String(error)}`));
  if (plan.unload.length > 0) {
    const names = plan.unload.map(kernelModuleName);
    await ctx.runtime.runModuleCommand(image, ['rmmod', '--', ...names], `unloading ${names.join(', ')}`).catch((error: unknown) => {
      throw new ModuleLoadError(`unloading ${settings.name}'s modules failed: ${error instanceof Error ? error.message : String(error)}`, {
        hint: 'see `dmesg` and `lsmod`; something may have started using them', cause: error,
      });
    });
    ctx.logger.info(`unloaded ${plan.unload.join(', ')}`);
  }
  return { changed: plan.unload, skipped: plan.skipped.map((item) => item.module) };
}
