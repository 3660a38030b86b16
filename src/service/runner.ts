// The runner kvc@<name>.service starts: build for the running kernel if needed, load, report
// ready; then stay up, pre-building images for kernels that get installed and pruning those of
// kernels that go; on SIGTERM, unload and exit 0.
import { join } from 'node:path';
import { KernelRefusedError } from '../errors.js';
import type { Session } from '../cli/session.js';
import { buildImage } from '../ops/build.js';
import { ImageMissingError, loadModules, unloadModules } from '../ops/modules.js';
import { startTools } from '../ops/tools.js';
import type { InstanceSettings } from '../config/settings.js';
import type { Context } from '../ops/context.js';
import { connectSystemBus } from '../bus/system-bus.js';
import type { MessageBus } from 'dbus-next';
import { ostreeBooted, watchStagedKernel } from '../bus/rpm-ostree.js';
import { notifySystemd } from './notify.js';
import { withInstanceLock } from '../ops/lock.js';
import { KernelWatcher } from './kernel-watcher.js';
import { BuildQueue, type QueueState } from './build-queue.js';
import { pruneImages } from './prune.js';

// How long a new kernel's directory must be quiet before its build starts.
export const SETTLE_MS = 1000;

// Resolves on the first SIGTERM or SIGINT. The handlers stay installed for good: execa's exit
// handler (signal-exit) re-raises a signal when it finds no other listener, which would kill the
// runner half-way through its start or its unload.
function untilStopSignal(logger: Session['logger']): Promise<NodeJS.Signals> {
  return new Promise((resolvePromise) => {
    let received: NodeJS.Signals | undefined;
    const stop = (signal: NodeJS.Signals) => {
      if (received !== undefined) {
        logger.info(`${signal}: already stopping`);
        return;
      }
      received = signal;
      resolvePromise(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

// The STATUS= line: what is loaded and what the background builds are doing.
export function statusLine(settings: InstanceSettings, kver: string, queue: QueueState): string {
  const parts = [`${settings.modules.join(', ')} loaded into ${kver}`];
  if (queue.building !== undefined) parts.push(`building the image for ${queue.building}`);
  if (queue.queued.length > 0) parts.push(`queued: ${queue.queued.join(', ')}`);
  if (queue.failed.size > 0) parts.push(`failed, retrying: ${[...queue.failed.keys()].join(', ')}`);
  return parts.join('; ');
}

// Runs the service for one instance; resolves with the exit status once stopped and unloaded.
export async function runService(session: Session, name: string): Promise<number> {
  const { ctx, logger } = session;
  const stopped = untilStopSignal(logger);
  const settings = await session.instance(name);
  const kver = ctx.runningKernel;
  // The fast path of a boot: load straight from the image, asking the runtime nothing first (one
  // container start, as a bare `podman run … modprobe` would be); build only when that says the
  // image is missing or stale.
  const { built, loaded } = await withInstanceLock(ctx, name, `kvc service ${name} (start)`, { wait: true }, async () => {
    await notifySystemd({ status: `Loading ${settings.modules.join(', ')}` }, logger);
    try {
      return { built: false, loaded: await loadModules(ctx, settings, kver, { tryImage: true, startTools: false }) };
    } catch (error) {
      if (!(error instanceof ImageMissingError)) throw error;
      logger.info(`${error.message}: building it`);
    }
    await notifySystemd({ status: `Building the image for ${kver}` }, logger);
    await buildImage(ctx, settings, kver, { network: session.global.buildNetwork, force: true });
    await notifySystemd({ status: `Loading ${settings.modules.join(', ')}` }, logger);
    return { built: true, loaded: await loadModules(ctx, settings, kver, { startTools: false }) };
  });
  logger.info(`ready: ${settings.modules.join(', ')} loaded into ${kver}${built ? ' (image built)' : ''}${loaded.skipped.length > 0 ? `; already there: ${loaded.skipped.join(', ')}` : ''}`);
  await notifySystemd({ ready: true, status: `${settings.modules.join(', ')} loaded into ${kver}` }, logger);

  // After READY: what host commands and pre-building need, not what the modules need.
  await withInstanceLock(ctx, name, `kvc service ${name} (tools)`, { wait: true }, async () => {
    // Nothing was loaded from the image (all there already): make sure it exists all the same.
    if (!built && loaded.changed.length === 0) await buildImage(ctx, settings, kver, { network: session.global.buildNetwork });
    await startTools(ctx, settings, kver);
  });
  const background = await startBackground(session, settings);
  await notifySystemd({ status: statusLine(settings, kver, background.queue.state()) }, logger);
  background.onChange(() => notifySystemd({ status: statusLine(settings, kver, background.queue.state()) }, logger));

  const signal = await stopped;
  logger.info(`${signal}: stopping; unloading ${settings.modules.join(', ')}`);
  await notifySystemd({ stopping: true, status: `Unloading ${settings.modules.join(', ')}` }, logger);
  await background.close();
  await withInstanceLock(ctx, name, `kvc service ${name} (stop)`, { wait: true }, () => unloadModules(ctx, settings, kver));
  logger.info('stopped');
  return 0;
}

// The watcher, the build queue and rpm-ostree, wired together.
async function startBackground(session: Session, settings: InstanceSettings) {
  const { ctx, logger, global } = session;
  let listener: (() => void) | undefined;
  const queue = new BuildQueue({
    logger,
    retryBaseMs: global.retrySeconds * 1000,
    retryMaxMs: 3600 * 1000,
    onChange: () => listener?.(),
    build: async (kver, signal) => {
      logger.info(`new kernel ${kver}: building its image in the background`);
      try {
        await withInstanceLock(ctx, settings.name, `kvc service ${settings.name} (build ${kver})`, { wait: true }, () =>
          buildImage(ctx, settings, kver, { network: global.buildNetwork, signal }));
      } catch (error) {
        // A kernel that cannot take the modules will not change its mind: say so once, no retry.
        if (!(error instanceof KernelRefusedError)) throw error;
        logger.warn(`${error.message}; not building for it`);
        return;
      }
      await prune(ctx, settings, global.keepKernels, new Set());
    },
  });
  const watcher = new KernelWatcher({
    roots: [join(ctx.hostRoot, 'usr/lib/modules'), join(ctx.hostRoot, 'lib/modules')],
    settleMs: SETTLE_MS,
    logger,
    onReady: (kver) => {
      if (kver !== ctx.runningKernel) queue.enqueue(kver);
    },
    onRemoved: (kver) => {
      if (kver === ctx.runningKernel) return;
      logger.info(`kernel ${kver} was removed`);
      queue.cancel(kver);
      void prune(ctx, settings, global.keepKernels, new Set([kver]));
    },
  });
  await watcher.start();
  const bus = await followRpmOstree(ctx, (kver) => {
    if (kver !== ctx.runningKernel) {
      logger.info(`rpm-ostree staged kernel ${kver}`);
      queue.enqueue(kver);
    }
  });
  return {
    queue,
    onChange: (fn: () => void) => { listener = fn; },
    close: async () => {
      queue.close();
      await watcher.close();
      bus?.disconnect();
    },
  };
}

// On a host ostree booted, follows rpm-ostree's staged deployment over the system bus and keeps
// the connection; elsewhere the bus is not asked (nor dbus-next loaded). Silent where it is absent.
async function followRpmOstree(ctx: Context, onStaged: (kver: string) => void): Promise<MessageBus | undefined> {
  if (!ostreeBooted(ctx.hostRoot)) return undefined;
  const bus = await connectSystemBus().catch(() => undefined);
  if (bus === undefined) return undefined;
  if (await watchStagedKernel(bus, onStaged).catch(() => false)) return bus;
  ctx.logger.verbose('rpm-ostree is not on the system bus');
  bus.disconnect();
  return undefined;
}

async function prune(ctx: Context, settings: InstanceSettings, keep: number, removed: ReadonlySet<string>): Promise<void> {
  await pruneImages(ctx, settings, keep, removed).catch((error: unknown) => ctx.logger.warn(`pruning images: ${error instanceof Error ? error.message : String(error)}`));
}
