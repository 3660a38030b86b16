// USB/IP's device manager: what kvc@usbip runs while the modules are loaded, from the devices file
// beside usbip.conf: the exports (usbipd, binds), the imports (attached and kept), and with a
// [tunnel] the WireGuard interface kvcwg they go through.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { listenAddresses } from './listen-addresses.js';
import { Waker } from './waker.js';
import { devtmpfsUsbEvents } from './usb-events.js';
import type { Context } from '../ops/context.js';
import { sysRoot, toolsContainerName, toolsStateDir } from '../ops/context.js';
import type { InstanceSettings } from '../config/settings.js';
import { readDevicesFile, USBIP_PORT, type DevicesConfig } from './devices-file.js';
import { Exporter, type ExportedState } from './exporter.js';
import { Importer, type UsbipConsumer, type ImportState } from './importer.js';
import { USBIPD, usbipIn, type ToolsExec } from './usbip-tool.js';
import { bindToUsbipHost } from './host-bind.js';
import { removeDevicesState, writeDevicesState, type UsbipDevicesState } from './devices-state.js';
import { containerConsumer } from './container-consumer.js';
import { guardExports } from './firewall.js';
import { watchDevicesFile, watchFolder } from './devices-file-watch.js';
import { ConfigError } from '../errors.js';
import { resolvePeerClients, TunnelSettingError, unknownPeer, type TunnelPeer } from './wireguard-plan.js';
import { listPeers, storeDir, type WireGuardStore } from './wireguard.js';
import { startTunnel, tunnelState, type RunningTunnel } from './tunnel.js';
import { planReload } from './reload-plan.js';
import { imageName } from '../images/names.js';
import { toolsAppArmor } from '../ops/tools-apparmor.js';
import { ToolPortRecords, VHCI_STATE_PATH } from './tool-records.js';
import { attachOverTcp, detachPort, PortRecords } from './vhci-attach.js';

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
  // The loops' usbip calls stop with the service; the detaches on stop run after it.
  const exec: ToolsExec = (command, options) => ctx.runtime.captureExec(toolsContainerName(settings.name), command, options);
  const usbip = usbipIn(exec, signal);
  const usbipOnStop = usbipIn(exec);
  const sys = sysRoot(ctx);
  let exporter: Exporter | undefined;
  let importer: Importer | undefined;
  let guard: { remove(): Promise<void> } | undefined;
  let tunnel: RunningTunnel | undefined;
  // With a [tunnel]: the peers kvc knows (kvc usbip peer add), and the exports with the peers
  // their clients name written as the peers' tunnel addresses (what the exporter sees).
  const store: WireGuardStore = { dir: storeDir(ctx.stateDir ?? '/var/lib/kvc') };
  const peersDir = join(store.dir, 'peers');
  let peers: TunnelPeer[] = [];
  const resolve = (next: DevicesConfig, known: readonly TunnelPeer[], unknown: 'refuse' | 'drop'): DevicesConfig['exports'] => {
    if (next.tunnel === undefined) return next.exports;
    try {
      return resolvePeerClients(next.exports, known, unknown);
    } catch (error) {
      if (!(error instanceof TunnelSettingError)) throw error;
      throw new ConfigError(path, undefined, error.message, { hint: 'kvc usbip peer list shows the peers kvc knows' });
    }
  };
  const publish = (): void => {
    const state: UsbipDevicesState = {
      pid: process.pid,
      updated: new Date().toISOString(),
      file: path,
      exported: exporter?.state().exported ?? [],
      missing: exporter?.state().missing ?? [],
      imports: importer?.state() ?? [],
      tunnel: tunnel === undefined || config.tunnel === undefined ? null : tunnelState(config.tunnel, tunnel),
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
    let exports = config.exports;
    if (config.tunnel !== undefined) {
      await mkdir(peersDir, { recursive: true, mode: 0o700 });
      peers = await listPeers(store);
      exports = resolve(config, peers, 'refuse');
      tunnel = await startTunnel(store, config.tunnel, peers, logger);
    }
    const tunnelGuard = config.tunnel === undefined ? {} : { tunnel: { peers } };
    if (config.exports.length > 0) {
      // The kernel's guard first: usbipd and the device list never listen unguarded.
      guard = await guardExports(exports, [USBIP_PORT, config.metadataPort], { logger, ...tunnelGuard });
      // usbipd writes each exported device's usbip_sockfd: kvc's AppArmor profile allows it.
      const apparmor = await toolsAppArmor(ctx, settings);
      const runUsbipd = (writable: readonly string[], onLine: (line: string) => void, stop: AbortSignal): { exited: Promise<number> } => ctx.runtime.runDaemon({
        image: imageName(settings, ctx.runningKernel), containerName: usbipdContainerName(settings.name), instance: settings.name, role: 'usbipd', command: [USBIPD], writable, apparmor,
      }, onLine, stop);
      // With a tunnel, the device list is served on this host's tunnel address too.
      const listen = listenAddresses([...config.listen, ...(config.tunnel === undefined ? [] : [config.tunnel.address.replace(/\/[0-9]+$/, '')])], networkInterfaces());
      for (const name of listen.missing) logger.warn(`${path}: [server] listen names ${name}, which has no address now; the device list is not served there`);
      exporter = new Exporter({ sys, runUsbipd, rules: exports, usbip, bind: (busid) => bindToUsbipHost(sys, busid), metadataPort: config.metadataPort, listenOn: listen.addresses, logger, signal, pollMs, waker, onChange: publish });
      await exporter.start();
    }
    if (config.imports.length > 0) {
      const consumer: UsbipConsumer | undefined = config.imports.some((rule) => rule.container !== undefined) ? containerConsumer(ctx, sys) : undefined;
      importer = new Importer({
        sys,
        toolRecords: new ToolPortRecords(toolsStateDir(ctx, settings.name, VHCI_STATE_PATH)),
        lockDir: join(ctx.runDir, settings.name, 'attach'),
        // kvc attaches itself (the import request over TCP, the socket handed to vhci_hcd): no
        // container exec per attach; usbip's record is written for `usbip port` all the same.
        own: { attach: (request) => attachOverTcp({ ...request, sys }), detach: (port) => detachPort(sys, port), records: new PortRecords(join(ctx.runDir, settings.name, 'vhci-ports')) },
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
    await tunnel?.down();
    throw error;
  }
  publish();
  // The file changed: the exports' rules are taken over at once (nftables first, then the exporter
  // cuts whom it no longer names); a bad file or a change only a restart applies is said, and the
  // running configuration stays. One reload at a time, the last change winning.
  let running = config;
  let runningPeers = peers;
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
    if (plan.kind === 'restart') {
      logger.warn(`${path} changed (${plan.why}): run systemctl restart kvc@${settings.name} to apply it; the service keeps what it read before`);
      return;
    }
    let nextPeers = runningPeers;
    if (running.tunnel !== undefined) {
      try {
        nextPeers = await listPeers(store);
      } catch (error) {
        logger.warn(`WireGuard peers changed but cannot be read: ${(error as Error).message}; the service keeps the peers from before`);
        return;
      }
    }
    const peersChanged = JSON.stringify(nextPeers.map((peer) => [peer.name, peer.publicKey, peer.address.text, peer.endpoint])) !== JSON.stringify(runningPeers.map((peer) => [peer.name, peer.publicKey, peer.address.text, peer.endpoint]));
    if (plan.kind === 'same' && !peersChanged) return;
    // A peer removed while an export names it admits no one from then on (said, not refused).
    const gone = next.tunnel === undefined ? undefined : unknownPeer(next.exports, nextPeers);
    if (gone !== undefined) logger.warn(`${gone}; until then that name admits no one`);
    const exports = resolve(next, nextPeers, 'drop');
    logger.info(plan.kind === 'same' ? `WireGuard peers changed: ${nextPeers.length} peer(s) taken over without a restart` : `${path} changed: ${next.exports.length} export(s) taken over without a restart`);
    // The tunnel's peers first (a peer taken off loses its session), then the kernel's guard.
    if (peersChanged) await tunnel?.update(nextPeers).catch((error: unknown) => logger.error(`WireGuard: cannot give kvcwg its new peers: ${(error as Error).message}`));
    // nft refusing the new table leaves the old one in place; the exporter still goes by the new rules.
    if (next.exports.length > 0) {
      guard = await guardExports(exports, [USBIP_PORT, next.metadataPort], { logger, ...(next.tunnel === undefined ? {} : { tunnel: { peers: nextPeers } }) }).catch((error: unknown) => {
        logger.error(`${path}: nftables refused the new guard (${(error as Error).message}); the kernel keeps the one from before`);
        return guard;
      });
    }
    running = next;
    runningPeers = nextPeers;
    await exporter?.updateRules(exports);
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
  if (config.tunnel !== undefined) {
    try {
      watchFolder(peersDir, scheduleReload, signal);
    } catch (error) {
      logger.warn(`cannot watch ${peersDir} (${(error as Error).message}); after kvc usbip peer add or remove, run systemctl restart kvc@${settings.name}`);
    }
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
      await tunnel?.down();
      removeDevicesState(ctx, settings.name);
    },
  };
}
