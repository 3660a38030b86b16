// The runner kvc@<name>.service starts: build for the running kernel if needed, load, report
// ready; then stay up, reconciling images with the installed kernels (every kernel that may boot
// has its image before it does; images of kernels that went are pruned); on SIGTERM, unload and
// exit 0.
import { InterruptedError } from '../errors.js';
import type { Session } from '../ops/session.js';
import { buildImage } from '../ops/build.js';
import { assertUnattendedBuildAllowed } from '../ops/unattended-sources.js';
import { ImageMissingError, loadModules, unloadModules } from '../ops/modules.js';
import { startTools } from '../ops/tools.js';
import type { GlobalSettings, InstanceSettings } from '../config/settings.js';
import type { Context } from '../ops/context.js';
import { connectSystemBus } from '../bus/system-bus.js';
import type { MessageBus } from 'dbus-next';
import { ostreeBooted, watchStagedKernel } from '../bus/rpm-ostree.js';
import { notifySystemd } from './notify.js';
import { holdServiceLock, withInstanceLock } from '../ops/lock.js';
import { watchBootFacts } from './boot-facts.js';
import { Reconciler, type ReconcileState } from './reconciler.js';
import { inhibitShutdown } from '../host/inhibit.js';
import { writeServiceState } from './service-state.js';
import { removeServiceState } from '../ops/service-state.js';
import { liveToolsPid } from '../ops/tools.js';
import { managerOf, type DeviceManager } from '../devices/manager.js';
import { onReload } from './reload.js';

// How long a new kernel's directory must be quiet before its build starts.
export const SETTLE_MS = 1000;
// The reconciler's safety net: a pass at least this often, even when no event said anything changed.
const RECONCILE_INTERVAL_MS = 3600 * 1000;

// The service's one lifetime signal: aborted on the first SIGTERM or SIGINT, with the signal's
// name as its reason. The handlers stay installed for good: execa's exit handler (signal-exit)
// re-raises a signal when it finds no other listener, which would kill the runner half-way
// through its start or its unload.
function lifetimeSignal(logger: Session['logger']): AbortSignal {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      logger.info(`${signal}: already stopping`);
      return;
    }
    controller.abort(new InterruptedError(`stopped by ${signal}`, { hint: 'nothing was left half-done' }));
    logger.info(`${signal}: stopping`);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return controller.signal;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

// The STATUS= line: what is loaded and what the reconciler is doing.
export function statusLine(settings: InstanceSettings, kver: string, state: ReconcileState): string {
  const parts = [`${settings.modules.join(', ')} loaded into ${kver}`];
  if (state.building !== undefined) parts.push(`building the image for ${state.building.kver}`);
  if (state.queued.length > 0) parts.push(`queued: ${state.queued.join(', ')}`);
  if (state.failed.size > 0) parts.push(`failed, retrying: ${[...state.failed.keys()].join(', ')}`);
  if (state.nextBoot !== undefined && state.nextBoot !== kver && !state.kernels.some((kernel) => kernel.kver === state.nextBoot && kernel.action === 'ready')) {
    parts.push(`next boot's kernel ${state.nextBoot} has no image yet`);
  }
  return parts.join('; ');
}

// Runs the service for one instance; resolves with the exit status once stopped and unloaded.
// SIGTERM at any point (a build at start, a lock wait, a background build) stops what runs; the
// service then unloads what it loaded and exits 0.
export async function runService(session: Session, name: string): Promise<number> {
  const lifetime = lifetimeSignal(session.logger);
  const ctx: Context = { ...session.ctx, signal: lifetime };
  const { logger, global } = session;
  let background: Background | undefined;
  // `systemctl reload` (the kernel hook): plan again; installed before anything slow runs.
  onReload(process, logger, () => background?.reconciler);
  const settings = await session.instance(name);
  // Held until the process ends: no second service, unload or reload of this instance beside it.
  await holdServiceLock(ctx, name, `kvc service ${name}`);
  const kver = ctx.runningKernel;
  // The device manager's configuration, checked before anything is loaded.
  const manager = managerOf(ctx.deviceManagers, settings.deviceManager);
  const devicesConfig = await manager?.readConfig(ctx, settings);
  const started = await startInstance(ctx, settings, global.buildNetwork).catch((error: unknown) => {
    if (lifetime.aborted) return undefined;
    throw error;
  });

  let devices: { close(): Promise<void> } | undefined;
  if (started !== undefined && !lifetime.aborted) {
    const { built, loaded } = started;
    logger.info(`ready: ${settings.modules.join(', ')} loaded into ${kver}${built ? ' (image built)' : ''}${loaded.skipped.length > 0 ? `; already there: ${loaded.skipped.join(', ')}` : ''}`);
    await notifySystemd({ ready: true, status: `${settings.modules.join(', ')} loaded into ${kver}` }, logger);
    try {
      // After READY: what host commands need, not what the modules need.
      await withInstanceLock(ctx, name, `kvc service ${name} (tools)`, { wait: true }, async () => {
        // Nothing was loaded from the image (all there already): the tools need it all the same.
        if (!built && loaded.changed.length === 0) {
          await buildImage(ctx, settings, kver, { network: global.buildNetwork, signal: lifetime, beforeLocalBuild: () => assertUnattendedBuildAllowed(settings) });
        }
        await startTools(ctx, settings, kver);
      });
      background = await startBackground(ctx, global, settings);
      if (manager !== undefined) devices = await startDevices(ctx, settings, manager, devicesConfig, lifetime);
    } catch (error) {
      if (!lifetime.aborted) throw error;
    }
    await untilAborted(lifetime);
  }

  await notifySystemd({ stopping: true, status: started === undefined ? 'Stopping' : `Unloading ${settings.modules.join(', ')}` }, logger);
  await devices?.close();
  await background?.close();
  if (started === undefined) {
    logger.info('stopped before anything was loaded; nothing to unload');
    return 0;
  }
  // The lifetime is over; the unload must still wait for the lock and run to its end.
  const { signal: _over, ...stopping } = ctx;
  logger.info(`unloading ${settings.modules.join(', ')}`);
  await withInstanceLock(stopping, name, `kvc service ${name} (stop)`, { wait: true }, () => unloadModules(stopping, settings, kver));
  logger.info('stopped');
  return 0;
}

// The start: load from the image, asking the runtime nothing about it first (the load's own reading
// of the image's module list says whether it is there); build only when that says it is missing or
// stale. Under the lock; a SIGTERM stops a build or a lock wait (rejecting), not a load.
async function startInstance(ctx: Context, settings: InstanceSettings, network: string | undefined) {
  const { logger } = ctx;
  const name = settings.name;
  const kver = ctx.runningKernel;
  return withInstanceLock(ctx, name, `kvc service ${name} (start)`, { wait: true }, async () => {
    await notifySystemd({ status: `Loading ${settings.modules.join(', ')}` }, logger);
    try {
      return { built: false, loaded: await loadModules(ctx, settings, kver, { tryImage: true, startTools: false }) };
    } catch (error) {
      if (!(error instanceof ImageMissingError)) throw error;
      logger.info(`${error.message}: building it`);
    }
    await notifySystemd({ status: `Building the image for ${kver}` }, logger);
    await buildImage(ctx, settings, kver, { network, force: true, beforeLocalBuild: () => assertUnattendedBuildAllowed(settings), ...(ctx.signal === undefined ? {} : { signal: ctx.signal }) });
    await notifySystemd({ status: `Loading ${settings.modules.join(', ')}` }, logger);
    return { built: true, loaded: await loadModules(ctx, settings, kver, { startTools: false }) };
  });
}

// The instance's device manager (KVC_DEVICE_MANAGER), in the tools container. A failure here is
// said and leaves the service up with its modules (what was started of it is stopped again).
async function startDevices(ctx: Context, settings: InstanceSettings, manager: DeviceManager<Context, InstanceSettings>, config: unknown, lifetime: AbortSignal): Promise<{ close(): Promise<void> } | undefined> {
  if (await liveToolsPid(ctx, settings.name, ctx.runningKernel) === undefined) {
    // Stopping before the tools container was up (a stop right after the start): not a fault.
    if (lifetime.aborted) return undefined;
    ctx.logger.error(`the tools container is not running: the ${settings.deviceManager ?? ''} device manager cannot start; restart the service (systemctl restart kvc@${settings.name})`);
    return undefined;
  }
  try {
    return await manager.start(ctx, settings, config, lifetime);
  } catch (error) {
    ctx.logger.error(`the ${settings.deviceManager ?? ''} device manager could not start: ${(error as Error).message}`);
    return undefined;
  }
}

type Background = Awaited<ReturnType<typeof startBackground>>;

// The reconciler, fed by the watcher, rpm-ostree and its own timer; its first pass runs now, so
// kernels installed while the service was down are built too.
async function startBackground(ctx: Context, global: GlobalSettings, settings: InstanceSettings) {
  const { logger } = ctx;
  const kver = ctx.runningKernel;
  let staged: string | undefined;
  const reconciler: Reconciler = new Reconciler({
    ctx,
    settings,
    keep: global.keepKernels,
    build: async (target, buildCtx, signal) => {
      return buildImage(buildCtx, settings, target, { network: global.buildNetwork, signal, beforeLocalBuild: () => assertUnattendedBuildAllowed(settings) });
    },
    retryBaseMs: global.retrySeconds * 1000,
    retryMaxMs: 3600 * 1000,
    intervalMs: RECONCILE_INTERVAL_MS,
    settleMs: SETTLE_MS,
    signal: ctx.signal ?? new AbortController().signal,
    staged: () => staged,
    inhibit: (why) => inhibitShutdown(why, logger),
    onChange: () => {
      const state = reconciler.state();
      void notifySystemd({ status: statusLine(settings, kver, state) }, logger);
      writeServiceState(ctx, settings.name, state);
    },
  });
  const facts = await watchBootFacts({ hostRoot: ctx.hostRoot, runningKernel: kver, settleMs: SETTLE_MS, logger }, reconciler);
  const bus = await followRpmOstree(ctx, (found) => {
    if (found === staged) return;
    const was = staged;
    staged = found;
    if (found === undefined) {
      logger.info(`rpm-ostree no longer stages kernel ${was ?? ''}`);
      reconciler.request('rpm-ostree staged deployment gone');
      return;
    }
    logger.info(`rpm-ostree staged kernel ${found}`);
    reconciler.request(`rpm-ostree staged ${found}`, found);
  });
  reconciler.request('service started');
  return {
    reconciler,
    close: async () => {
      await reconciler.close();
      await facts.close();
      bus?.disconnect();
      removeServiceState(ctx, settings.name);
    },
  };
}

// On a host ostree booted, follows rpm-ostree's staged deployment over the system bus and keeps
// the connection; elsewhere the bus is not asked (nor dbus-next loaded). Silent where it is absent.
async function followRpmOstree(ctx: Context, onStaged: (kver: string | undefined) => void): Promise<MessageBus | undefined> {
  if (!ostreeBooted(ctx.hostRoot)) return undefined;
  const bus = await connectSystemBus().catch(() => undefined);
  if (bus === undefined) return undefined;
  if (await watchStagedKernel(bus, onStaged).catch(() => false)) return bus;
  ctx.logger.verbose('rpm-ostree is not on the system bus');
  bus.disconnect();
  return undefined;
}
