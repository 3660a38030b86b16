// USB/IP's device manager: what kvc@usbip runs while the modules are loaded, from the devices file
// beside usbip.conf: the exports (usbipd, binds) and the imports (attached and kept).
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { listenAddresses } from './listen-addresses.js';
import { Waker } from './waker.js';
import { devtmpfsUsbEvents } from './usb-events.js';
import type { Context } from '../ops/context.js';
import { sysRoot, toolsContainerName } from '../ops/context.js';
import type { InstanceSettings } from '../config/settings.js';
import { readDevicesFile, USBIP_PORT, type DevicesConfig } from './devices-file.js';
import { Exporter, type ExportedState } from './exporter.js';
import { Importer, type UsbipConsumer, type ImportState } from './importer.js';
import { USBIPD, usbipIn, type ToolsExec } from './usbip-tool.js';
import { liveToolsPid } from '../ops/tools.js';
import { removeDevicesState, writeDevicesState, type UsbipDevicesState } from './devices-state.js';
import { containerConsumer } from './container-consumer.js';
import { guardExports } from './firewall.js';
import { watchDevicesFile } from './devices-file-watch.js';
import { planReload } from './reload-plan.js';
import { imageName } from '../images/names.js';
import { toolsAppArmor } from '../ops/tools-apparmor.js';

// The periodic look where USB events cannot be watched,
export const POLL_MS = 1000;
// and where they can (a safety net only).
export const EVENT_POLL_MS = 10_000;
// The first wait before an import is tried again after a failure…
export const RETRY_BASE_MS = 1000;
// …and the longest, as the waits double.
export const RETRY_MAX_MS = 30_000;

// Where an instance's devices file is: <config-dir>/<instance>.devices.
export function devicesFilePath(ctx: Pick<Context, 'configDir'>, instance: string): string {
  return join(ctx.configDir, `${instance}.devices`);
}

// Reads and checks the file (once, before the service loads anything: a bad file fails the start
// with exit 78, and nothing is half done); undefined when there is none.
export async function readUsbipDevices(ctx: Context, settings: InstanceSettings): Promise<DevicesConfig | undefined> {
  const path = devicesFilePath(ctx, settings.name);
  return readDevicesFile(path);
}

// The container usbipd runs in, beside the tools container.
export function usbipdContainerName(instance: string): string {
  return `kvc-${instance}-usbipd`;
}

// Starts what the file asks for: usbip calls in the tools container, usbipd in its own.
export async function startUsbipDevices(ctx: Context, settings: InstanceSettings, config: DevicesConfig | undefined, signal: AbortSignal): Promise<{ close(): Promise<void> } | undefined> {
  const { logger } = ctx;
  const path = devicesFilePath(ctx, settings.name);
  if (config === undefined) {
    logger.info(`no ${path}: no USB/IP devices are exported or imported by the service`);
    return undefined;
  }
  // The manager's own lifetime: the service's, or shorter when its start fails half-way.
  const own = new AbortController();
  if (signal.aborted) own.abort();
  signal.addEventListener('abort', () => own.abort(), { once: true });
  signal = own.signal;
  const toolsPid = (): Promise<number | undefined> => liveToolsPid(ctx, settings.name, ctx.runningKernel);
  // The loops' usbip calls stop with the service; the detaches on stop run after it.
  const exec: ToolsExec = (command, options) => ctx.runtime.captureExec(toolsContainerName(settings.name), command, options);
  const usbip = usbipIn(exec, signal);
  const usbipOnStop = usbipIn(exec);
  const sys = sysRoot(ctx);
  let exporter: Exporter | undefined;
  let importer: Importer | undefined;
  let guard: { remove(): Promise<void> } | undefined;
  const publish = (): void => {
    const state: UsbipDevicesState = {
      pid: process.pid,
      updated: new Date().toISOString(),
      file: path,
      exported: exporter?.state().exported ?? [],
      missing: exporter?.state().missing ?? [],
      imports: importer?.state() ?? [],
    };
    writeDevicesState(ctx, settings.name, state);
  };
  logger.info(`${path}: ${config.exports.length} device(s) to export, ${config.imports.length} to import`);
  // Replugs seen as the kernel makes and removes the devices' nodes, not by a 1-second loop.
  const waker = new Waker();
  const usbDir = join(ctx.hostRoot, 'dev/bus/usb');
  let pollMs = EVENT_POLL_MS;
  try {
    devtmpfsUsbEvents(usbDir)(() => waker.wake(), signal);
    logger.info(`USB devices watched in ${usbDir} (the kernel's devtmpfs): a plug or unplug is acted on at once`);
  } catch (error) {
    pollMs = POLL_MS;
    logger.warn(`cannot watch ${usbDir} (${(error as Error).message}); looking at the USB devices every ${POLL_MS / 1000} s instead`);
  }
  try {
    if (config.exports.length > 0) {
      // The kernel's guard first: usbipd and the device list never listen unguarded.
      guard = await guardExports(config.exports, [USBIP_PORT, config.metadataPort], { logger });
      // usbipd writes each exported device's usbip_sockfd: kvc's AppArmor profile allows it.
      const apparmor = await toolsAppArmor(ctx, settings);
      const runUsbipd = (writable: readonly string[], onLine: (line: string) => void, stop: AbortSignal): { exited: Promise<number> } => ctx.runtime.runDaemon({
        image: imageName(settings, ctx.runningKernel), containerName: usbipdContainerName(settings.name), instance: settings.name, role: 'usbipd', command: [USBIPD], writable, apparmor,
      }, onLine, stop);
      const listen = listenAddresses(config.listen, networkInterfaces());
      for (const name of listen.missing) logger.warn(`${path}: [server] listen names ${name}, which has no address now; the device list is not served there`);
      exporter = new Exporter({ sys, runUsbipd, rules: config.exports, usbip, metadataPort: config.metadataPort, listenOn: listen.addresses, logger, signal, pollMs, waker, onChange: publish });
      await exporter.start();
    }
    if (config.imports.length > 0) {
      const consumer: UsbipConsumer | undefined = config.imports.some((rule) => rule.container !== undefined) ? containerConsumer(ctx, sys) : undefined;
      importer = new Importer({
        sys,
        toolsRoot: async () => {
          const pid = await toolsPid();
          return pid === undefined ? undefined : join(ctx.hostRoot, 'proc', String(pid), 'root');
        },
        lockDir: join(ctx.runDir, settings.name, 'attach'),
        rules: config.imports, usbip, usbipOnStop, logger, signal, pollMs, waker, retryBaseMs: RETRY_BASE_MS, retryMaxMs: RETRY_MAX_MS,
        consumer, onChange: publish,
      });
      await importer.start();
    }
  } catch (error) {
    // Nothing is left half-started: what did start stops again.
    own.abort();
    await importer?.close().catch(() => undefined);
    await exporter?.close().catch(() => undefined);
    await guard?.remove();
    throw error;
  }
  publish();
  // The file changed: the exports' rules are taken over at once (nftables first, then the exporter
  // cuts whom it no longer names); a bad file or a change only a restart applies is said, and the
  // running configuration stays. One reload at a time, the last change winning.
  let running = config;
  let reloading: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    let next: DevicesConfig | undefined;
    try {
      next = await readDevicesFile(path);
    } catch (error) {
      logger.warn(`${path} changed but cannot be used: ${(error as Error).message}; the service keeps what it read before`);
      return;
    }
    if (next === undefined) {
      logger.warn(`${path} is gone; the service keeps what it read before until it is restarted`);
      return;
    }
    const plan = planReload(running, next);
    if (plan.kind === 'same') return;
    if (plan.kind === 'restart') {
      logger.warn(`${path} changed (${plan.why}): run systemctl restart kvc@${settings.name} to apply it; the service keeps what it read before`);
      return;
    }
    logger.info(`${path} changed: ${next.exports.length} export(s) taken over without a restart`);
    // nft refusing the new table leaves the old one in place; the exporter still goes by the new rules.
    guard = await guardExports(next.exports, [USBIP_PORT, next.metadataPort], { logger }).catch((error: unknown) => {
      logger.error(`${path}: nftables refused the new guard (${(error as Error).message}); the kernel keeps the one from before`);
      return guard;
    });
    running = next;
    await exporter?.updateRules(next.exports);
    publish();
  };
  const scheduleReload = (): void => {
    reloading = reloading.then(reload).catch((error: unknown) => {
      logger.error(`${path}: cannot apply the change: ${(error as Error).message}`);
    });
  };
  try {
    watchDevicesFile(path, scheduleReload, signal);
  } catch (error) {
    logger.warn(`cannot watch ${path} (${(error as Error).message}); after a change, run systemctl restart kvc@${settings.name}`);
  }
  // The file was read before the modules were loaded (a build may take minutes): an edit made
  // since then, which no watch saw, is applied now.
  scheduleReload();
  return {
    close: async () => {
      await reloading;
      await importer?.close();
      await exporter?.close();
      await guard?.remove();
      removeDevicesState(ctx, settings.name);
    },
  };
}
