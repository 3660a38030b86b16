// `kvc load` and `kvc unload`: modprobe and rmmod run inside the instance's image.
import { ImageMissingError, ImageNotFoundError, ModuleInUseError, ModuleLoadError, RuntimeError } from '../errors.js';
import type { InstanceSettings } from '../config/settings.js';
import { checkKernelRelease } from '../kernel/release.js';
import { kernelModuleName, loadedModuleNames, type ModuleStatus } from '../kernel/module-state.js';
import { describeBlocked, modulesAdded, planLoad, planUnload, planUnloadRecorded, type Blocked } from '../kmods/plan.js';
import { lastKernelLineAbout } from '../kernel/kmsg.js';
import { HOST_MODULES_PREFIX, hostModulesVolume } from '../runtime/args.js';
import { procRoot, type Context } from './context.js';
import { assertKernelCanTake, assertRunningKernel } from './kernel-check.js';
import { assertSignaturesAccepted, loadSources } from './load-sources.js';
import { assertAbiMatches } from './abi-preload.js';
import { signatureRejection } from '../signing/load-trust.js';
import { isWould } from '../host/effect.js';
import { clearLoadRecord, mergeRecord, readLoadRecord, writeLoadRecord } from './load-record.js';
import { moduleStatuses } from './modules-state.js';
import { modprobeConfigVolumes } from './modprobe-config.js';
import { startTools, stopTools } from './tools.js';
import { imageName } from '../images/names.js';
import { toolsAppArmor } from './tools-apparmor.js';

// What a load or unload did.
export interface ModulesOutcome {
  readonly changed: readonly string[];
  readonly skipped: readonly string[];
}

// Reads the state of each of the instance's modules.
export { moduleStatuses };

async function requireImage(ctx: Context, settings: InstanceSettings, kver: string): Promise<string> {
  const image = imageName(settings, kver);
  if ((await ctx.runtime.inspectImage(image)) === undefined) {
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
// In-tree modules they need that the image lacks come from the host's own tree (mounted read-only,
// `modprobe -d`), then the image's modules, then the image's further modules (load-also), each
// from the host's tree when it has them. Unsigned modules into a kernel that refuses them are
// refused first. When the kernel refuses one, the modules this call loaded are unloaded again.
// What was loaded is recorded for unload.
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
  // Reading the image's module list is the first thing run in it: it says whether it is there.
  const { plan: sources, host } = await loadSources(ctx, image, kver, plan.load).catch((error: unknown) => {
    if (!(error instanceof ImageNotFoundError)) throw error;
    throw new ImageMissingError(`${image} does not exist`, { hint: `build it first: kvc build ${settings.name} ${kver}`, cause: error });
  });
  const skipped = [...plan.skipped, ...sources.skipped];
  for (const item of skipped) ctx.logger.info(`${item.module}: ${item.reason}, skipped`);
  const phases = [
    { modules: sources.hostFirst, fromHost: true },
    { modules: sources.image, fromHost: false },
    { modules: sources.hostAfter, fromHost: true },
  ].filter((phase) => phase.modules.length > 0);
  const loading = phases.flatMap((phase) => phase.modules);
  if (loading.length > 0) {
    // The host's own modules are its distribution's, signed by its key: only the image's are checked.
    await assertSignaturesAccepted(ctx, settings, image, kver, sources.image);
    // vermagic and symbol CRCs against what the kernel exports (issue 21), for every build.
    if (sources.image.length > 0) await assertAbiMatches(ctx, settings, image, kver);
    const policy = modprobeConfigVolumes(ctx);
    // A dry run's module commands (Woulds) loaded nothing: there is nothing to check or record.
    let would = false;
    try {
      for (const phase of phases) {
        const what = `loading ${phase.modules.join(', ')}${phase.fromHost ? ` from the kernel's own tree` : ''}`;
        if (phase.fromHost && host !== undefined) {
          would = isWould(await ctx.runtime.runModuleCommand(image, ['modprobe', '--dirname', HOST_MODULES_PREFIX, '--all', '--', ...phase.modules], what, [hostModulesVolume(host.dir, kver), ...policy])) || would;
        } else {
          would = isWould(await ctx.runtime.runModuleCommand(image, ['modprobe', '--all', '--', ...phase.modules], what, policy)) || would;
        }
      }
    } catch (error) {
      const stale = imageLacks(error);
      if (stale !== undefined) {
        await rollBack(ctx, image, loading, before, loadedBefore, sources.closure);
        throw new ImageMissingError(`${image} ${stale}`, { hint: `build it: kvc build ${settings.name} ${kver} --force`, cause: error });
      }
      const failed = await firstNotLive(ctx, loading);
      const kernelSays = lastKernelLineAbout(loading.flatMap((module) => [module, kernelModuleName(module)]));
      await rollBack(ctx, image, loading, before, loadedBefore, sources.closure);
      // A signature the kernel refused (broken, or made with another key than it names): said so.
      const rejected = signatureRejection(error instanceof RuntimeError ? `${error.stderrTail}\n${error.message}` : String(error));
      throw new ModuleLoadError(`loading ${failed ?? loading.join(', ')} into ${kver} failed: ${rejected ?? (error instanceof Error ? error.message : String(error))}${kernelSays === undefined ? '' : ` (kernel: ${kernelSays})`}`, {
        hint: rejected === undefined ? 'nothing this command loaded was left loaded; see `dmesg` for the kernel\'s side' : `nothing this command loaded was left loaded; rebuild the image (kvc build ${settings.name} ${kver} --force), and see kvc key status`,
        cause: error,
      });
    }
    if (!would) {
      const after = await moduleStatuses(ctx, loading);
      const missing = loading.filter((module) => after.get(kernelModuleName(module))?.state !== 'live');
      if (missing.length > 0) {
        await rollBack(ctx, image, loading, before, loadedBefore, sources.closure);
        throw new ModuleLoadError(`modprobe succeeded but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not live in /sys/module`, { hint: 'see `dmesg`' });
      }
      const added = await recordLoad(ctx, settings.name, kver, loading, loadedBefore, sources.closure);
      // What modprobe pulled in besides (the USB core on a cloud kernel, the host's scsi_mod…).
      const pulled = added.filter((name) => !loading.some((module) => kernelModuleName(module) === name)).reverse();
      ctx.logger.info(`loaded ${loading.join(', ')} into ${kver}${pulled.length > 0 ? `, with the modules they need: ${pulled.join(', ')}` : ''}`);
    } else {
      ctx.logger.info(`dry run: would load ${loading.join(', ')} into ${kver} with the commands above; nothing was loaded`);
    }
  } else {
    // Nothing loaded now: the record says so (what an earlier kvc load loaded stays in it), so
    // that unload leaves modules loaded otherwise as they are.
    await recordLoad(ctx, settings.name, kver, [], undefined, sources.closure);
  }
  if (options.startTools !== false) await startTools(ctx, settings, kver);
  return { changed: loading, skipped: skipped.map((item) => item.module) };
}

// Records what this load added (every module new in /proc/modules that the load could have brought
// in, dependencies too; else the modules it asked for), merged with what earlier loads recorded
// and is still loaded; returns what this load added, newest first.
async function recordLoad(ctx: Context, instance: string, kver: string, loading: readonly string[], loadedBefore: readonly string[] | undefined, closure: ReadonlySet<string>): Promise<readonly string[]> {
  const loadedNow = await loadedModuleNames(procRoot(ctx));
  const added = loadedBefore !== undefined && loadedNow !== undefined
    ? modulesAdded(loadedBefore, loadedNow).filter((name) => closure.has(name))
    : [...loading].reverse().map(kernelModuleName);
  const previous = readLoadRecord(ctx, instance, kver)?.modules ?? [];
  await writeLoadRecord(ctx, instance, { kver, modules: mergeRecord(added, previous, loadedNow ?? [...added, ...previous]) });
  return added;
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
  const now = await moduleStatuses(ctx, modules);
  return modules.find((module) => now.get(kernelModuleName(module))?.state !== 'live');
}

// Unloads what a failed load added, newest first, so the kernel is as it was: every module that
// appeared in /proc/modules since and that the load could have brought in (modprobe's
// dependencies too; not what another program loaded meanwhile), else the instance's own modules.
async function rollBack(ctx: Context, image: string, modules: readonly string[], before: ReadonlyMap<string, ModuleStatus>, loadedBefore: readonly string[] | undefined, closure: ReadonlySet<string>): Promise<void> {
  const loadedNow = await loadedModuleNames(procRoot(ctx));
  let added: string[];
  if (loadedBefore !== undefined && loadedNow !== undefined) {
    added = modulesAdded(loadedBefore, loadedNow).filter((name) => closure.has(name));
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
async function runPreUnloadHook(ctx: Context, settings: InstanceSettings, image: string): Promise<void> {
  const result = await ctx.runtime.runHook(image, [PRE_UNLOAD_HOOK], await toolsAppArmor(ctx, settings));
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

// Unloads what kvc's loads of the instance recorded (its modules, the dependencies they pulled in,
// the image's further modules), newest first, and nothing else; without a record (modules loaded
// otherwise), KMOD_NAMES in reverse order. Refuses one of KMOD_NAMES that something else uses
// unless forced; a dependency something else uses is left loaded, and said so.
export async function unloadModules(ctx: Context, settings: InstanceSettings, kver: string, options: { force?: boolean } = {}): Promise<ModulesOutcome> {
  checkKernelRelease(kver);
  assertRunningKernel(ctx, kver, 'unload');
  const image = await requireImage(ctx, settings, kver);
  const record = readLoadRecord(ctx, settings.name, kver);
  if (record === undefined) ctx.logger.info(`no record of a kvc load of ${settings.name} into ${kver}: unloading ${settings.modules.join(', ')} (as the bash KVC does)`);
  const planNow = async () => {
    if (record === undefined) return { ...planUnload(settings.modules, await moduleStatuses(ctx, settings.modules)), kept: [] as Blocked[] };
    return planUnloadRecorded(settings.modules, record.modules, await moduleStatuses(ctx, [...record.modules, ...settings.modules]));
  };
  // Planned and refused before the pre-unload hook runs: a refused unload changes nothing.
  const first = await planNow();
  if (options.force !== true) refuseBlocked(first.blocked, false);
  if (first.unload.length > 0) await runPreUnloadHook(ctx, settings, image);
  const plan = await planNow();
  for (const skipped of plan.skipped) ctx.logger.info(`${skipped.module}: ${skipped.reason}, skipped`);
  // Something took a module between the plan and now (the hook ran; nothing is unloaded).
  if (options.force !== true) refuseBlocked(plan.blocked, true);
  for (const blocked of plan.blocked) ctx.logger.warn(`--force: unloading ${describeBlocked(blocked)}`);
  for (const kept of plan.kept) ctx.logger.info(`left loaded: ${describeBlocked(kept)}`);
  // The tools container holds no module; failing to remove it must not keep the modules loaded.
  await stopTools(ctx, settings).catch((error: unknown) => ctx.logger.warn(`could not remove the tools container: ${error instanceof Error ? error.message : String(error)}`));
  if (plan.unload.length > 0) {
    const names = plan.unload.map(kernelModuleName);
    const unloaded = await ctx.runtime.runModuleCommand(image, ['rmmod', '--', ...names], `unloading ${names.join(', ')}`).catch((error: unknown) => {
      throw new ModuleLoadError(`unloading ${settings.name}'s modules failed: ${error instanceof Error ? error.message : String(error)}`, {
        hint: 'see `dmesg` and `lsmod`; something may have started using them', cause: error,
      });
    });
    ctx.logger.info(isWould(unloaded) ? `dry run: would unload ${plan.unload.join(', ')} with the commands above; nothing was unloaded` : `unloaded ${plan.unload.join(', ')}`);
  }
  if (record !== undefined) {
    if (plan.kept.length === 0) await clearLoadRecord(ctx, settings.name);
    else await writeLoadRecord(ctx, settings.name, { kver, modules: plan.kept.map((kept) => kernelModuleName(kept.module)) });
  }
  return { changed: plan.unload, skipped: plan.skipped.map((item) => item.module) };
}
