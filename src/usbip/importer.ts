// The importing side, run by the service while USB/IP is loaded: each device the devices file
// imports is attached once it is exported, watched on its vhci port, attached again with back-off
// when it drops (server reboot, replug, network loss), and detached on stop. One attach per device:
// the same per-device lock as the host command `usbip attach`, and a device already attached on
// this host is never attached twice.
import { constants, openSync, closeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { flockExclusive } from '../host/flock.js';
import { describeMatch, type ImportRule } from './devices-file.js';
import { backoffMs, resolveImport, type RemoteDevice } from './import-plan.js';
import { fetchDeviceList } from './device-list.js';
import { parsePortRecord, readVhciPorts, readVhciSize, VDEV_ST_NULL, type VhciPort } from './usb-sysfs.js';
import { parseRemoteList, type UsbipRunner } from './usbip-tool.js';
import { everyUntilAborted } from './loop.js';

// What a container-bound import is attached for (the container, through the core's device grants).
export interface DeviceConsumer {
  // Why the device must not be attached for it now (not running, not fit), or undefined.
  blocked(rule: ImportRule): Promise<string | undefined>;
  // After the attach and on every look while attached: hand over the device's nodes as they appear.
  grant(rule: ImportRule, localBusid: string): Promise<void>;
  // Whether what it was attached for went (then it is detached).
  gone(rule: ImportRule): Promise<boolean>;
  // Take back what was handed over.
  release(rule: ImportRule): Promise<void>;
}

export interface ImportState {
  readonly rule: string;
  readonly server: string;
  readonly device: string;
  readonly container: string | null;
  readonly state: 'attached' | 'waiting' | 'refused';
  readonly busid: string | null;
  readonly port: number | null;
  readonly controller: number | null;
  readonly localBusid: string | null;
  readonly since: string | null;
  readonly reconnects: number;
  readonly why: string | null;
  readonly nextTry: string | null;
}

export interface ImporterOptions {
  readonly sys: string;
  // The tools container's root as the host sees it (/proc/<pid>/root): usbip's port records.
  readonly toolsRoot: string;
  readonly lockDir: string;
  readonly rules: readonly ImportRule[];
  readonly usbip: UsbipRunner;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly pollMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly metadataPort: number;
  readonly consumer: DeviceConsumer | undefined;
  readonly onChange: () => void;
}

interface Entry {
  readonly rule: ImportRule;
  state: ImportState['state'];
  busid: string | undefined;
  port: number | undefined;
  localBusid: string | undefined;
  since: Date | undefined;
  reconnects: number;
  attempt: number;
  nextTry: number;
  why: string | undefined;
}

export class Importer {
  private readonly entries: Entry[];
  private done: Promise<void> = Promise.resolve();
  private portsPerController = 0;

  constructor(private readonly options: ImporterOptions) {
    this.entries = options.rules.map((rule) => ({ rule, state: 'waiting', busid: undefined, port: undefined, localBusid: undefined, since: undefined, reconnects: 0, attempt: 0, nextTry: 0, why: undefined }));
  }

  async start(): Promise<void> {
    const size = await readVhciSize(this.options.sys);
    this.portsPerController = size.controllers > 0 ? size.ports / size.controllers : 0;
    await this.tick();
    this.done = this.poll();
  }

  // Detaches everything it attached (the service is stopping), then gives back what containers got.
  async close(): Promise<void> {
    await this.done;
    const { usbip, logger, consumer } = this.options;
    for (const entry of this.entries) {
      if (entry.state === 'attached' && entry.port !== undefined) {
        const result = await usbip(['detach', '--port', String(entry.port)]);
        logger.info(`import ${entry.rule.name}: ${result.ok ? `detached from port ${entry.port}` : `could not detach port ${entry.port}: ${result.said}`}`);
      }
      if (entry.rule.container !== undefined) await consumer?.release(entry.rule).catch(() => undefined);
      entry.state = 'waiting';
    }
  }

  state(): ImportState[] {
    return this.entries.map((entry) => ({
      rule: entry.rule.name,
      server: `${entry.rule.server}:${entry.rule.port}`,
      device: describeMatch(entry.rule.match),
      container: entry.rule.container ?? null,
      state: entry.state,
      busid: entry.busid ?? null,
      port: entry.port ?? null,
      controller: entry.port === undefined || this.portsPerController === 0 ? null : Math.floor(entry.port / this.portsPerController),
      localBusid: entry.localBusid ?? null,
      since: entry.since?.toISOString() ?? null,
      reconnects: entry.reconnects,
      why: entry.why ?? null,
      nextTry: entry.state === 'attached' || entry.nextTry === 0 ? null : new Date(entry.nextTry).toISOString(),
    }));
  }

  private poll(): Promise<void> {
    return everyUntilAborted(this.options.pollMs, this.options.signal, () => this.tick(), (error) => this.options.logger.warn(`import: ${error.message}`));
  }

  private async tick(): Promise<void> {
    const before = JSON.stringify(this.state());
    const ports = await readVhciPorts(this.options.sys);
    for (const entry of this.entries) {
      if (this.options.signal.aborted) break;
      if (entry.state === 'attached') await this.watch(entry, ports);
      else if (Date.now() >= entry.nextTry) await this.attach(entry, await readVhciPorts(this.options.sys));
    }
    if (JSON.stringify(this.state()) !== before) this.options.onChange();
  }

  // An attached device: still on its port? Still wanted by its container?
  private async watch(entry: Entry, ports: readonly VhciPort[]): Promise<void> {
    const { logger, consumer, usbip } = this.options;
    const port = ports.find((candidate) => candidate.port === entry.port);
    const record = await this.record(entry.port!);
    const still = port !== undefined && port.state !== VDEV_ST_NULL && record !== undefined && record.busid === entry.busid && record.host === entry.rule.server;
    if (entry.rule.container !== undefined && consumer !== undefined) {
      if (still && await consumer.gone(entry.rule)) {
        const result = await usbip(['detach', '--port', String(entry.port)]);
        await consumer.release(entry.rule);
        logger.info(`import ${entry.rule.name}: container ${entry.rule.container} is gone: ${result.ok ? `detached port ${entry.port}` : `could not detach port ${entry.port}: ${result.said}`}; attached again when it runs again`);
        this.reset(entry, 'waiting', `container ${entry.rule.container} is not running`, 0);
        return;
      }
      if (still) await consumer.grant(entry.rule, port.localBusid).catch((error: unknown) => logger.warn(`import ${entry.rule.name}: ${(error as Error).message}`));
    }
    if (still) {
      entry.localBusid = port.localBusid;
      return;
    }
    entry.reconnects += 1;
    if (entry.rule.container !== undefined) await consumer?.release(entry.rule).catch(() => undefined);
    const wait = backoffMs(0, this.options.retryBaseMs, this.options.retryMaxMs);
    logger.warn(`import ${entry.rule.name}: ${entry.busid} from ${entry.rule.server} dropped off port ${entry.port} (server gone, device unplugged or network lost); attaching again in ${Math.round(wait / 1000)} s`);
    this.reset(entry, 'waiting', 'dropped; attaching again', 1, wait);
  }

  private reset(entry: Entry, state: Entry['state'], why: string, attempt: number, wait = 0): void {
    entry.state = state;
    entry.port = undefined;
    entry.localBusid = undefined;
    entry.since = undefined;
    entry.why = why;
    entry.attempt = attempt;
    entry.nextTry = Date.now() + wait;
  }

  // One try at attaching: find the one device the rule names, then attach it under its lock.
  private async attach(entry: Entry, ports: readonly VhciPort[]): Promise<void> {
    const { rule } = entry;
    const { usbip, logger, consumer } = this.options;
    const retry = (state: Entry['state'], why: string, level: 'info' | 'warn' | 'error'): void => {
      const wait = backoffMs(entry.attempt, this.options.retryBaseMs, this.options.retryMaxMs);
      if (entry.why !== why) logger[level](`import ${rule.name}: ${why}; trying again in ${Math.round(wait / 1000)} s (then less often, up to every ${Math.round(this.options.retryMaxMs / 1000)} s)`);
      entry.state = state;
      entry.why = why;
      entry.attempt += 1;
      entry.nextTry = Date.now() + wait;
    };
    if (rule.container !== undefined && consumer !== undefined) {
      const blocked = await consumer.blocked(rule);
      if (blocked !== undefined) return retry('waiting', blocked, 'info');
    }
    const listed = await fetchDeviceList(rule.server, this.options.metadataPort);
    let devices: RemoteDevice[];
    if (listed !== undefined) {
      devices = listed;
    } else {
      const result = await usbip([...(rule.port === 3240 ? [] : ['--tcp-port', String(rule.port)]), 'list', '--remote', rule.server]);
      if (!result.ok) return retry('waiting', `${rule.server} does not answer (${result.said})`, 'warn');
      devices = parseRemoteList(result.stdout);
    }
    const found = resolveImport(rule, devices, listed !== undefined);
    if (found.kind === 'ambiguous') return retry('refused', `not attached: ${found.why}`, 'error');
    if (found.kind === 'absent') return retry('waiting', found.why, 'info');
    const device = found.device;
    const mine = await this.attachedPort(rule.server, device.busid, ports);
    if (mine !== undefined) return this.attached(entry, device.busid, mine, 'already attached on this host; kept');
    if (device.state === 'used') return retry('waiting', `${device.busid} is imported by another client of ${rule.server}; not attached twice`, 'warn');

    const lock = await this.lock(rule.server, device.busid);
    if (lock === undefined) return retry('waiting', `another attach of ${device.busid} from ${rule.server} is in progress on this host`, 'warn');
    try {
      const again = await this.attachedPort(rule.server, device.busid, await readVhciPorts(this.options.sys));
      if (again !== undefined) return this.attached(entry, device.busid, again, 'already attached on this host; kept');
      const result = await usbip([...(rule.port === 3240 ? [] : ['--tcp-port', String(rule.port)]), 'attach', '--remote', rule.server, '--busid', device.busid]);
      if (!result.ok) return retry('waiting', `attaching ${device.busid} from ${rule.server} failed: ${result.said}`, 'warn');
      const port = await this.attachedPort(rule.server, device.busid, await readVhciPorts(this.options.sys));
      if (port === undefined) return retry('waiting', `usbip attached ${device.busid} but no vhci port shows it`, 'warn');
      this.attached(entry, device.busid, port, 'attached');
    } finally {
      closeSync(lock);
    }
    if (rule.container !== undefined && consumer !== undefined && entry.localBusid !== undefined) {
      await consumer.grant(rule, entry.localBusid).catch((error: unknown) => logger.warn(`import ${rule.name}: ${(error as Error).message}`));
    }
  }

  private attached(entry: Entry, busid: string, port: VhciPort, how: string): void {
    const wasDropped = entry.reconnects > 0;
    entry.state = 'attached';
    entry.busid = busid;
    entry.port = port.port;
    entry.localBusid = port.localBusid;
    entry.since = new Date();
    entry.attempt = 0;
    entry.nextTry = 0;
    entry.why = undefined;
    const controller = this.portsPerController === 0 ? 0 : Math.floor(port.port / this.portsPerController);
    this.options.logger.info(`import ${entry.rule.name}: ${busid} from ${entry.rule.server} ${how} on port ${port.port} (vhci_hcd.${controller}, ${port.hub}), local bus id ${port.localBusid}${wasDropped ? ` (reconnect ${entry.reconnects})` : ''}${entry.rule.container === undefined ? '' : `, for container ${entry.rule.container}`}`);
  }

  // The port where this host has that device attached: used, and usbip's record names it.
  private async attachedPort(server: string, busid: string, ports: readonly VhciPort[]): Promise<VhciPort | undefined> {
    for (const port of ports) {
      if (port.state === VDEV_ST_NULL) continue;
      const record = await this.record(port.port);
      if (record !== undefined && record.host === server && record.busid === busid) return port;
    }
    return undefined;
  }

  private async record(port: number): Promise<ReturnType<typeof parsePortRecord>> {
    const dir = join(this.options.toolsRoot, 'run/vhci_hcd');
    return readFile(join(dir, `port${port}`), 'utf8').then(parsePortRecord, () => undefined);
  }

  // The lock the host command's guard takes for `usbip attach` of this device; undefined when held.
  private async lock(server: string, busid: string): Promise<number | undefined> {
    const address = await lookup(server).then((found) => found.address, () => server);
    await mkdir(this.options.lockDir, { recursive: true, mode: 0o700 });
    const file = join(this.options.lockDir, `${address}_${busid}`.replace(/[^A-Za-z0-9._-]/g, '_') + '.lock');
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
    try {
      if (await flockExclusive(fd, { wait: false })) return fd;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    closeSync(fd);
    return undefined;
  }
}

