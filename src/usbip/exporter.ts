// The exporting side, run by the service while USB/IP is loaded: usbipd in a container of its own, and
// every device the devices file names bound to usbip-host when it appears (at start, after a
// replug, after a reboot); a device bound but named by no rule is given back to its driver.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseUsbipdLine } from './usbipd-output.js';
import type { Server } from 'node:http';
import type { Logger } from '../log/logger.js';
import type { ExportRule } from './devices-file.js';
import { matches, planExports } from './export-plan.js';
import { backoffMs } from './import-plan.js';
import { serveDeviceList, type ListedDevice } from './device-list.js';
import { listUsbDevices, usbRootHubDirs, type UsbDevice } from './usb-sysfs.js';
import type { UsbipRunner } from './usbip-tool.js';
import { describeDevice, sleep } from './loop.js';
import { Waker } from './waker.js';
import { describeClients, type Clients } from './clients.js';
import { exportsFor } from './device-list-filter.js';
import { revokedImports } from './reload-plan.js';

// One exported device as status shows it: rule, bus id, VID:PID, serial, state, who imported it.
export interface ExportedState {
  readonly rule: string;
  readonly busid: string;
  readonly vendor: string;
  readonly product: string;
  readonly serial: string | null;
  readonly state: 'exported' | 'imported' | 'error' | 'binding';
  readonly importedBy: string | null;
}

// What the exporter is given: sysfs, the rules, a usbip runner, usbipd's starter, timings.
export interface ExporterOptions {
  readonly sys: string;
  readonly rules: readonly ExportRule[];
  readonly usbip: UsbipRunner;
  // Binds a device to usbip-host (default: `usbip bind` by the runner above; the service gives
  // host-bind.ts's sysfs writes, without a container exec).
  readonly bind?: (busid: string) => Promise<{ readonly ok: boolean; readonly said: string }>;
  // Starts usbipd in its container, with these /sys folders (the USB root hubs') writable; its
  // output goes to onLine; resolves with its exit status once it ends (or the signal aborts).
  readonly runUsbipd: (writable: readonly string[], onLine: (line: string) => void, signal: AbortSignal) => { exited: Promise<number> };
  readonly metadataPort: number;
  // The addresses the device list listens on (loopback and the configured ones; never all).
  readonly listenOn: readonly string[];
  readonly logger: Logger;
  readonly signal: AbortSignal;
  // The periodic look; besides it, a look on each wake (a USB device came or went).
  readonly pollMs: number;
  readonly waker?: Waker;
  readonly onChange: () => void;
}

// The exporting side: binds the devices the rules name to usbip-host, runs usbipd, serves the device list, and rebinds on replug.
export class Exporter {
  private devices: UsbDevice[] = [];
  private exported: ExportedState[] = [];
  private missing: string[] = [];
  private readonly failing = new Map<string, string>();
  // Who imported each bus id, from usbipd's own lines (connection from …, found requested device: …).
  private readonly importers = new Map<string, string>();
  private lastPeer: string | undefined;
  private readonly servers: Server[] = [];
  // The rules and each export's clients: the file's, replaced by updateRules when it changes.
  private rules: readonly ExportRule[];
  private clients: ReadonlyMap<string, Clients>;
  // Peers told that they may attach nothing (journaled once each).
  private readonly toldNothing = new Set<string>();
  // The USB root hubs usbipd's container may write under, and how to stop that container when
  // they change (a controller added or removed): it starts again with the new ones.
  private usbipdHubs: string | undefined;
  private usbipdRun: AbortController | undefined;
  private done: Promise<unknown> = Promise.resolve();
  // The look in progress: looks run one at a time (the poll, an event, a refused attach).
  private looking: Promise<void> = Promise.resolve();

  constructor(private readonly options: ExporterOptions) {
    this.rules = options.rules;
    this.clients = new Map(options.rules.map((rule) => [rule.name, rule.clients]));
  }

  // The devices file changed (its exports only): the new rules and clients are used from now on;
  // each device imported by a peer its export no longer names has that peer's connection ended at
  // once: "-1" written to the device's usbip_sockfd (usbip-host shuts the connection down and
  // makes the device available again, still bound, for those it is for now), or, where that
  // write fails, the device unbound from usbip-host (bound again by the look that follows). Runs
  // as one look, after the one in progress.
  updateRules(rules: readonly ExportRule[]): Promise<void> {
    const { logger, usbip } = this.options;
    const next = this.looking.then(async () => {
      this.rules = rules;
      this.clients = new Map(rules.map((rule) => [rule.name, rule.clients]));
      this.toldNothing.clear();
      // Who holds each device as usbipd said it last (the published state may lag a look behind).
      const held = this.exported.map((entry) => ({ ...entry, importedBy: this.importers.get(entry.busid) ?? entry.importedBy }));
      for (const { rule, busid, peer } of revokedImports(held, this.clients)) {
        const clients = this.clients.get(rule);
        logger.warn(`export ${rule}: ${peer} is no longer among its clients (${clients === undefined ? 'none' : describeClients(clients)}); taking ${busid} back from it`);
        this.importers.delete(busid);
        const down = await writeFile(join(this.options.sys, 'bus/usb/devices', busid, 'usbip_sockfd'), '-1').then(() => undefined, (error: unknown) => (error as Error).message);
        if (down === undefined) continue;
        const result = await usbip(['unbind', '--busid', busid]);
        if (!result.ok) logger.error(`export ${rule}: cannot take ${busid} back from ${peer}: ${down} (usbip_sockfd); ${result.said} (unbind)`);
      }
      await this.look();
    });
    this.looking = next.catch(() => undefined);
    return next;
  }

  async start(): Promise<void> {
    const { logger, metadataPort } = this.options;
    await this.tick();
    const daemon = this.superviseUsbipd();
    for (const host of metadataPort > 0 ? this.options.listenOn : []) {
      try {
        this.servers.push(await serveDeviceList(metadataPort, (peer) => this.listForClients(peer), host));
        logger.info(`device list for clients (serial numbers, states) on ${host.includes(':') ? `[${host}]` : host}:${metadataPort}: GET /v1/devices, each client told of the exports it may attach`);
      } catch (error) {
        logger.warn(`cannot serve the device list on ${host} port ${metadataPort} (${(error as Error).message}); clients there can name devices by bus id or VID:PID only`);
      }
    }
    this.done = Promise.all([daemon, this.poll()]);
  }

  async close(): Promise<void> {
    await this.done;
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  state(): { exported: readonly ExportedState[]; missing: readonly string[] } {
    return { exported: this.exported, missing: this.missing };
  }

  private listForClients(peer: string): ListedDevice[] {
    const mine = exportsFor(peer, this.exported, this.clients);
    if (mine.length === 0 && this.exported.length > 0 && !this.toldNothing.has(peer)) {
      this.toldNothing.add(peer);
      this.options.logger.warn(`device list: ${peer} may attach none of the exports; told of none`);
    }
    return mine.map((entry) => ({
      busid: entry.busid, vendor: entry.vendor, product: entry.product, serial: entry.serial ?? undefined,
      state: entry.state === 'imported' ? 'used' : entry.state === 'error' ? 'error' : 'available',
    }));
  }

  // A look every poll, and at once when woken (a device plugged in or out): a wake during a look
  // makes another look right after it.
  private async poll(): Promise<void> {
    const { pollMs, signal, logger } = this.options;
    const waker = this.options.waker ?? new Waker();
    let seen = waker.generation;
    while (!signal.aborted) {
      await waker.wait(seen, waker.waitMs(pollMs), signal);
      if (signal.aborted) break;
      seen = waker.generation;
      await this.tick().catch((error: unknown) => logger.warn(`export: ${(error as Error).message}`));
    }
  }

  // One look at the devices, after the one in progress.
  private tick(): Promise<void> {
    const next = this.looking.then(() => this.look());
    this.looking = next.catch(() => undefined);
    return next;
  }

  // One look at the devices: bind what is named and not bound, unbind what is bound and not named.
  private async look(): Promise<void> {
    const { sys, usbip, logger } = this.options;
    const rules = this.rules;
    const before = new Map(this.devices.map((device) => [device.busid, device]));
    this.devices = await listUsbDevices(sys);
    const plan = planExports(rules, this.devices);
    for (const { device, rule } of plan.bind) {
      const result = await (this.options.bind ?? ((busid: string) => usbip(['bind', '--busid', busid])))(device.busid);
      if (result.ok) {
        this.failing.delete(device.busid);
        logger.info(`export ${rule}: ${describeDevice(device)} bound to usbip-host, exported`);
      } else if (this.failing.get(device.busid) !== result.said) {
        this.failing.set(device.busid, result.said);
        logger.warn(`export ${rule}: ${describeDevice(device)} could not be bound to usbip-host: ${result.said}; trying again`);
      }
    }
    for (const device of plan.unbind) {
      const result = await usbip(['unbind', '--busid', device.busid]);
      const said = `${describeDevice(device)} was bound to usbip-host, but no [export] names it: ${result.ok ? 'given back to its driver' : `could not unbind it: ${result.said}`}`;
      if (this.failing.get(device.busid) !== said) logger.warn(said);
      if (result.ok) this.failing.delete(device.busid);
      else this.failing.set(device.busid, said);
    }
    for (const [busid, device] of before) {
      if (this.devices.some((now) => now.busid === busid)) continue;
      const was = this.exported.find((entry) => entry.busid === busid);
      if (was !== undefined) logger.info(`export ${was.rule}: ${describeDevice(device)} is gone (unplugged); it is exported again when it comes back`);
      this.importers.delete(busid);
    }
    if (plan.bind.length > 0 || plan.unbind.length > 0) this.devices = await listUsbDevices(sys);
    const now = planExports(rules, this.devices);
    const exported = now.exported.map(({ device, rule }): ExportedState => {
      const state = device.driver !== 'usbip-host' ? 'binding' : device.usbipStatus === 2 ? 'imported' : device.usbipStatus === 3 ? 'error' : 'exported';
      if (state !== 'imported') this.importers.delete(device.busid);
      return { rule, busid: device.busid, vendor: device.vendor, product: device.product, serial: device.serial ?? null, state, importedBy: state === 'imported' ? this.importers.get(device.busid) ?? null : null };
    });
    const missing = now.missing;
    for (const name of missing) if (!this.missing.includes(name)) logger.info(`export ${name}: no such device is plugged in; it is exported when it appears`);
    const changed = JSON.stringify([exported, missing]) !== JSON.stringify([this.exported, this.missing]);
    this.exported = exported;
    this.missing = [...missing];
    if (changed) this.options.onChange();
    const hubs = (await usbRootHubDirs(sys)).join(' ');
    if (this.usbipdHubs !== undefined && hubs !== this.usbipdHubs && this.usbipdRun !== undefined) {
      logger.info(`usbipd: the USB controllers changed (${hubs === '' ? 'none' : hubs}); restarting it with them`);
      this.usbipdRun.abort();
    }
  }

  // usbipd in its own container (no capabilities, read-only root, /sys read-only but the USB
  // root hubs' folders, no host /dev, its own cgroup), restarted with back-off when it exits.
  private async superviseUsbipd(): Promise<void> {
    const { runUsbipd, sys, logger, signal } = this.options;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const hubs = await usbRootHubDirs(sys);
      this.usbipdHubs = hubs.join(' ');
      const run = new AbortController();
      this.usbipdRun = run;
      const stop = (): void => run.abort();
      signal.addEventListener('abort', stop, { once: true });
      logger.info(`usbipd: starting in its own container (TCP port 3240, no capabilities, read-only root; writes only under ${hubs.length === 0 ? 'no USB controller' : hubs.join(', ')})`);
      const started = Date.now();
      const status = await runUsbipd(hubs, (line) => this.usbipdSaid(line), run.signal).exited.catch((error: unknown) => {
        logger.error(`usbipd: cannot start: ${(error as Error).message}`);
        return 1;
      });
      signal.removeEventListener('abort', stop);
      if (signal.aborted) break;
      if (run.signal.aborted) {
        attempt = -1;
        continue;
      }
      if (Date.now() - started > 60_000) attempt = 0;
      const wait = backoffMs(attempt, 1000, 30_000);
      logger.warn(`usbipd exited (status ${status}); starting it again in ${Math.round(wait / 1000)} s`);
      await sleep(wait, signal);
    }
  }

  private usbipdSaid(line: string): void {
    const said = parseUsbipdLine(line);
    if (said.kind === 'connection') this.lastPeer = said.peer;
    if (said.kind === 'found' && this.lastPeer !== undefined) this.importers.set(said.busid, this.lastPeer);
    this.options.logger.info(`usbipd: ${said.kind === 'other' ? said.text : line.replace(/^(usbipd: )+/, '').replace(/^(info|error|debug): /, '')}`);
    if (said.kind === 'found' && this.lastPeer !== undefined) void this.judgeAttach(said.busid, this.lastPeer);
  }

  // Each attach journaled with its peer; a peer the export's clients do not name (the kernel lets
  // through the union of all exports' clients) has the device taken back at once: unbound, which
  // ends its connection, and bound again for those it is for.
  private async judgeAttach(busid: string, peer: string): Promise<void> {
    const { logger, usbip, sys } = this.options;
    const rules = this.rules;
    // Read anew: the device may have been bound by a look that has not finished yet.
    const device = (await listUsbDevices(sys)).find((entry) => entry.busid === busid);
    const rule = device === undefined ? undefined : rules.find((candidate) => matches(candidate.match, device))?.name;
    const clients = rule === undefined ? undefined : this.clients.get(rule);
    const what = device === undefined ? busid : describeDevice(device);
    if (clients !== undefined && exportsFor(peer, [{ rule: rule! }], this.clients).length > 0) {
      // usbipd says "found" for every request of an exported device; it may still refuse one in use.
      logger.info(`export ${rule}: import of ${what} requested by ${peer}, one of its clients${clients.kind === 'any' ? ' (clients = any)' : ''}`);
      return;
    }
    logger.warn(`export ${rule ?? '?'}: attach of ${what} by ${peer} refused: not among its clients (${clients === undefined ? 'none' : describeClients(clients)}); taking it back`);
    this.importers.delete(busid);
    const result = await usbip(['unbind', '--busid', busid]);
    if (!result.ok) logger.error(`export ${rule ?? '?'}: cannot take ${what} back from ${peer}: ${result.said}`);
    await this.tick().catch((error: unknown) => logger.warn(`export: ${(error as Error).message}`));
  }
}
