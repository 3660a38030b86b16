// The importing side, run by the service while USB/IP is loaded: each device the devices file
// imports is attached once it is exported, watched on its vhci port, attached again with back-off
// when it drops (server reboot, replug, network loss), and detached on stop. One attach per device:
// the same per-device lock as the host command `usbip attach`; a device already attached on this
// host is adopted, never attached twice, and never held by two imports; what lands on the port is
// checked against what the import names (VID:PID, serial) before it counts, or a container gets it.
import { oneLine } from '../log/sanitize.js';
import { constants, openSync, closeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { flockExclusive } from '../host/flock.js';
import { describeMatch, type ImportRule } from './devices-file.js';
import { backoffMs, resolveImport, type RemoteDevice } from './import-plan.js';
import { fetchDeviceList } from './device-list.js';
import { parsePortRecord, readVhciPorts, readVhciSize, VDEV_ST_NULL, type VhciPort } from './usb-sysfs.js';
import { parseRemoteList, type UsbipRunner } from './usbip-tool.js';
import { everyUntilAborted } from './loop.js';
import { canonicalHost, lockKey } from './remote-host.js';

// An attachment that held less than this long before it dropped does not reset the back-off.
export const STEADY_MS = 60_000;

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
  // Attached by someone else before the service looked (adopted: left attached on stop).
  readonly adopted: boolean;
  readonly since: string | null;
  readonly reconnects: number;
  readonly why: string | null;
  readonly nextTry: string | null;
}

export interface ImporterOptions {
  readonly sys: string;
  // The tools container's root as the host sees it (/proc/<pid>/root, where usbip keeps its port
  // records), asked anew each time: the container may have been started again.
  readonly toolsRoot: () => Promise<string | undefined>;
  readonly lockDir: string;
  readonly rules: readonly ImportRule[];
  // usbip for the loop (cancelled when the service stops) and for the detaches on stop (not).
  readonly usbip: UsbipRunner;
  readonly usbipOnStop: UsbipRunner;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly pollMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly consumer: DeviceConsumer | undefined;
  readonly onChange: () => void;
  // How long an attached device may stay unidentifiable (still enumerating) before it is
  // detached (default VERIFY_MS). Until then it is not verified and nothing is granted.
  readonly verifyMs?: number;
}

// A device still enumerating shows its IDs in sysfs within a second or two; one that shows none
// for this long is not taken on trust.
export const VERIFY_MS = 10_000;

interface Entry {
  readonly rule: ImportRule;
  state: ImportState['state'];
  device: RemoteDevice | undefined;
  address: string | undefined;
  port: number | undefined;
  localBusid: string | undefined;
  verified: boolean;
  adopted: boolean;
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
    this.entries = options.rules.map((rule) => ({
      rule, state: 'waiting', device: undefined, address: undefined, port: undefined, localBusid: undefined, verified: false, adopted: false,
      since: undefined, reconnects: 0, attempt: 0, nextTry: 0, why: undefined,
    }));
  }

  async start(): Promise<void> {
    const size = await readVhciSize(this.options.sys);
    this.portsPerController = size.controllers > 0 ? size.ports / size.controllers : 0;
    await this.tick();
    this.done = everyUntilAborted(this.options.pollMs, this.options.signal, () => this.tick(), (error) => this.options.logger.warn(`import: ${error.message}`));
  }

  // Detaches what it attached (the service is stopping; what it adopted stays), then gives back
  // what containers got.
  async close(): Promise<void> {
    await this.done;
    const { usbipOnStop, logger, consumer } = this.options;
    for (const entry of this.entries) {
      if (entry.state === 'attached' && entry.port !== undefined) {
        if (entry.adopted) {
          logger.info(`import ${entry.rule.name}: port ${entry.port} left attached (it was attached before the service took it over)`);
        } else {
          const result = await usbipOnStop(['detach', '--port', String(entry.port)]);
          logger.info(`import ${entry.rule.name}: ${result.ok ? `detached from port ${entry.port}` : `could not detach port ${entry.port}: ${result.said}`}`);
        }
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
      busid: entry.device?.busid ?? null,
      port: entry.port ?? null,
      controller: entry.port === undefined || this.portsPerController === 0 ? null : Math.floor(entry.port / this.portsPerController),
      localBusid: entry.localBusid ?? null,
      adopted: entry.adopted,
      since: entry.since?.toISOString() ?? null,
      reconnects: entry.reconnects,
      why: entry.why ?? null,
      nextTry: entry.state === 'attached' || entry.nextTry === 0 ? null : new Date(entry.nextTry).toISOString(),
    }));
  }

  private async tick(): Promise<void> {
    const before = JSON.stringify(this.state());
    for (const entry of this.entries) {
      if (this.options.signal.aborted) break;
      const ports = await readVhciPorts(this.options.sys);
      if (entry.state === 'attached') await this.watch(entry, ports);
      else if (Date.now() >= entry.nextTry) await this.attach(entry, ports);
    }
    if (JSON.stringify(this.state()) !== before) this.options.onChange();
  }

  // An attached device: still on its port, and the device it should be? Still wanted?
  private async watch(entry: Entry, ports: readonly VhciPort[]): Promise<void> {
    const { logger, consumer, usbip } = this.options;
    const port = ports.find((candidate) => candidate.port === entry.port);
    const record = await this.record(entry.port!);
    const still = port !== undefined && port.state !== VDEV_ST_NULL && record !== undefined && record.busid === entry.device?.busid && record.host === entry.address;
    if (still) {
      entry.localBusid = port.localBusid;
      if (!entry.verified) {
        // Fails closed: a device that cannot be read yet is not verified (checked again on the
        // next look) and, past the deadline, detached; only a device read and found to be the one
        // named is ever granted.
        const found = port.localBusid === '0-0' ? { kind: 'unreadable' as const } : await this.identify(entry, port.localBusid);
        const deadline = this.options.verifyMs ?? VERIFY_MS;
        const late = found.kind === 'unreadable' && Date.now() - (entry.since?.getTime() ?? 0) > deadline;
        if (found.kind === 'wrong' || late) {
          const wrong = found.kind === 'wrong' ? found.is : `a device that could not be identified within ${deadline / 1000} s`;
          if (!entry.adopted) await usbip(['detach', '--port', String(entry.port)]);
          logger.error(`import ${entry.rule.name}: port ${entry.port} holds ${wrong}, not ${describeMatch(entry.rule.match)}: ${entry.adopted ? 'not taken over' : 'detached'}`);
          this.dropped(entry, 'refused', `the device ${entry.device?.busid ?? ''} of ${entry.rule.server} turned out to be ${wrong}`);
          return;
        }
        entry.verified = found.kind === 'ok';
      }
      if (entry.rule.container !== undefined && consumer !== undefined) {
        if (await consumer.gone(entry.rule)) {
          const result = entry.adopted ? { ok: true, said: '' } : await usbip(['detach', '--port', String(entry.port)]);
          await consumer.release(entry.rule);
          logger.info(`import ${entry.rule.name}: container ${entry.rule.container} is gone: ${result.ok ? `detached port ${entry.port}` : `could not detach port ${entry.port}: ${result.said}`}; attached again when it runs again`);
          this.reset(entry, 'waiting', `container ${entry.rule.container} is not running`, 0);
          return;
        }
        if (entry.verified) await consumer.grant(entry.rule, port.localBusid).catch((error: unknown) => this.sayOnce(entry, `import ${entry.rule.name}: ${(error as Error).message}`));
      }
      return;
    }
    entry.reconnects += 1;
    if (entry.rule.container !== undefined) await consumer?.release(entry.rule).catch(() => undefined);
    const held = entry.since === undefined ? 0 : Date.now() - entry.since.getTime();
    // A steady attachment that dropped is tried again at once; one that keeps dropping backs off.
    const attempt = held >= STEADY_MS ? 0 : entry.attempt + 1;
    const wait = backoffMs(attempt, this.options.retryBaseMs, this.options.retryMaxMs);
    logger.warn(`import ${entry.rule.name}: ${entry.device?.busid ?? ''} from ${entry.rule.server} dropped off port ${entry.port} (server gone, device unplugged or network lost); attaching again in ${Math.round(wait / 1000)} s`);
    this.dropped(entry, 'waiting', 'dropped; attaching again', attempt, wait);
  }

  private dropped(entry: Entry, state: Entry['state'], why: string, attempt = entry.attempt + 1, wait = backoffMs(attempt, this.options.retryBaseMs, this.options.retryMaxMs)): void {
    this.reset(entry, state, why, attempt, wait);
  }

  private reset(entry: Entry, state: Entry['state'], why: string, attempt: number, wait = 0): void {
    entry.state = state;
    entry.port = undefined;
    entry.localBusid = undefined;
    entry.verified = false;
    entry.adopted = false;
    entry.since = undefined;
    entry.why = why;
    entry.attempt = attempt;
    entry.nextTry = Date.now() + wait;
  }

  private sayOnce(entry: Entry, line: string): void {
    if (entry.why === line) return;
    entry.why = line;
    this.options.logger.warn(line);
  }

  // One try at attaching: find the one device the rule names, then attach it under its lock.
  private async attach(entry: Entry, ports: readonly VhciPort[]): Promise<void> {
    const { rule } = entry;
    const { usbip, consumer } = this.options;
    // A failure backs off (1 s, doubling, up to the maximum); a server that answers that the device
    // is not there (yet) is asked again every base interval, which costs it one list request.
    const retry = (state: Entry['state'], why: string, level: 'info' | 'warn' | 'error', grow = true): void => {
      const wait = grow ? backoffMs(entry.attempt, this.options.retryBaseMs, this.options.retryMaxMs) : this.options.retryBaseMs;
      if (entry.why !== why) this.options.logger[level](`import ${rule.name}: ${why}; ${grow ? `trying again in ${Math.round(wait / 1000)} s (then less often, up to every ${Math.round(this.options.retryMaxMs / 1000)} s)` : `asking again every ${Math.round(wait / 1000)} s`}`);
      entry.state = state;
      entry.why = why;
      if (grow) entry.attempt += 1;
      entry.nextTry = Date.now() + wait;
    };
    if (rule.container !== undefined && consumer !== undefined) {
      const blocked = await consumer.blocked(rule);
      if (blocked !== undefined) return retry('waiting', blocked, 'info');
    }
    const address = await canonicalHost(rule.server);
    entry.address = address;
    const tcpPort = rule.port === 3240 ? [] : ['--tcp-port', String(rule.port)];
    const listed = rule.listPort === 0 ? undefined : await fetchDeviceList(address, rule.listPort, { signal: this.options.signal });
    let devices: RemoteDevice[];
    if (listed !== undefined) {
      devices = listed;
    } else {
      const result = await usbip([...tcpPort, 'list', '--remote', address]);
      if (!result.ok) return retry('waiting', `${rule.server} does not answer (${result.said})`, 'warn');
      devices = parseRemoteList(result.stdout);
    }
    const found = resolveImport(rule, devices, listed !== undefined);
    if (found.kind === 'ambiguous') return retry('refused', `not attached: ${found.why}`, 'error');
    // Not there (yet): asked again soon; no serials to tell devices apart: that will not change soon.
    if (found.kind === 'absent') return retry('waiting', found.why, 'info', listed === undefined && rule.match.kind === 'id' && rule.match.serial !== undefined);
    const device = found.device;
    const other = this.entries.find((candidate) => candidate !== entry && candidate.state === 'attached' && candidate.address === address && candidate.device?.busid === device.busid);
    if (other !== undefined) return retry('refused', `not attached: ${device.busid} of ${rule.server} is the device [import.${other.rule.name}] holds; one device is attached for one import`, 'error');
    const mine = await this.attachedPort(address, device.busid, ports);
    if (mine !== undefined) return this.attached(entry, device, mine, 'already attached on this host; taken over', true);
    if (device.state === 'used') return retry('waiting', `${device.busid} is imported by another client of ${rule.server}; not attached twice`, 'warn');

    const lock = await this.lock(address, device.busid);
    if (lock === undefined) return retry('waiting', `another attach of ${device.busid} from ${rule.server} is in progress on this host`, 'warn');
    try {
      const again = await this.attachedPort(address, device.busid, await readVhciPorts(this.options.sys));
      if (again !== undefined) return this.attached(entry, device, again, 'already attached on this host; taken over', true);
      const result = await usbip([...tcpPort, 'attach', '--remote', address, '--busid', device.busid]);
      if (!result.ok) return retry('waiting', `attaching ${device.busid} from ${rule.server} failed: ${result.said}`, 'warn');
      const port = await this.attachedPort(address, device.busid, await readVhciPorts(this.options.sys));
      if (port === undefined) return retry('waiting', `usbip attached ${device.busid} but no vhci port shows it`, 'warn');
      this.attached(entry, device, port, 'attached', false);
    } finally {
      closeSync(lock);
    }
  }

  private attached(entry: Entry, device: RemoteDevice, port: VhciPort, how: string, adopted: boolean): void {
    const wasDropped = entry.reconnects > 0;
    entry.state = 'attached';
    entry.device = device;
    entry.port = port.port;
    entry.localBusid = port.localBusid;
    entry.verified = false;
    entry.adopted = adopted;
    entry.since = new Date();
    entry.nextTry = 0;
    entry.why = undefined;
    const controller = this.portsPerController === 0 ? 0 : Math.floor(port.port / this.portsPerController);
    this.options.logger.info(`import ${entry.rule.name}: ${device.busid} from ${entry.rule.server} ${how} on port ${port.port} (vhci_hcd.${controller}, ${port.hub})${wasDropped ? ` (reconnect ${entry.reconnects})` : ''}${entry.rule.container === undefined ? '' : `, for container ${entry.rule.container}`}`);
  }

  // Whether the device on the port is what the import names (VID:PID, serial): ok, wrong (what it
  // is), or unreadable (its IDs are not in sysfs yet).
  private async identify(entry: Entry, localBusid: string): Promise<{ kind: 'ok' } | { kind: 'unreadable' } | { kind: 'wrong'; is: string }> {
    const dir = join(this.options.sys, 'bus/usb/devices', localBusid);
    const read = (file: string): Promise<string | undefined> => readFile(join(dir, file), 'utf8').then((text) => oneLine(text.trim()), () => undefined);
    const [vendor, product, serial] = await Promise.all([read('idVendor'), read('idProduct'), read('serial')]);
    if (vendor === undefined || product === undefined) return { kind: 'unreadable' };
    const wrong = this.mismatch(entry, vendor, product, serial);
    return wrong === undefined ? { kind: 'ok' } : { kind: 'wrong', is: wrong };
  }

  // What the device is, when it is not what the import names; undefined when it is. Pure.
  private mismatch(entry: Entry, vendor: string, product: string, serial: string | undefined): string | undefined {
    const match = entry.rule.match;
    const want = match.kind === 'id' ? { vendor: match.vendor, product: match.product, serial: match.serial } : { vendor: entry.device?.vendor, product: entry.device?.product, serial: entry.device?.serial };
    const is = `${vendor}:${product}${serial === undefined ? '' : ` serial ${serial}`}`;
    if (want.vendor !== undefined && want.vendor !== vendor.toLowerCase()) return is;
    if (want.product !== undefined && want.product !== product.toLowerCase()) return is;
    if (want.serial !== undefined && want.serial !== serial) return is;
    return undefined;
  }

  // The port where this host has that device attached: used, and usbip's record names it.
  private async attachedPort(address: string, busid: string, ports: readonly VhciPort[]): Promise<VhciPort | undefined> {
    for (const port of ports) {
      if (port.state === VDEV_ST_NULL) continue;
      const record = await this.record(port.port);
      if (record !== undefined && record.host === address && record.busid === busid) return port;
    }
    return undefined;
  }

  private async record(port: number): Promise<ReturnType<typeof parsePortRecord>> {
    const root = await this.options.toolsRoot();
    if (root === undefined) return undefined;
    return readFile(join(root, 'run/vhci_hcd', `port${port}`), 'utf8').then(parsePortRecord, () => undefined);
  }

  // The lock the host command's guard takes for `usbip attach` of this device; undefined when held.
  private async lock(address: string, busid: string): Promise<number | undefined> {
    await mkdir(this.options.lockDir, { recursive: true, mode: 0o700 });
    const fd = openSync(join(this.options.lockDir, lockKey(address, busid)), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
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
