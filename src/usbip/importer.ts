// The importing side, run by the service while USB/IP is loaded: each device the devices file
// imports is attached once it is exported, watched on its vhci port, attached again with back-off
// when it drops (server reboot, replug, network loss), and detached on stop. One attach per device:
// the same per-device lock as the host command `usbip attach`; a device already attached on this
// host is adopted, never attached twice, and never held by two imports; what lands on the port is
// checked against what the import names (VID:PID, serial) before it counts, or a container gets it.
// Each server has a loop of its own, so a server that does not answer holds up only its own
// imports; and every call out of a loop has a time limit (IMPORT_TIMEOUTS): one that runs out is a
// failed try, said with the server and the call, and backed off as any other.
import { oneLine } from '../log/sanitize.js';
import { constants, openSync, closeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { flockExclusive } from '../host/flock.js';
import { describeMatch, type ImportRule } from './devices-file.js';
import { backoffMs, resolveImport, type RemoteDevice } from './import-plan.js';
import { fetchDeviceList } from './device-list.js';
import { readVhciPorts, readVhciSize, VDEV_ST_NULL, VDEV_ST_USED, type VhciPort } from './usb-sysfs.js';
import { parseRemoteList, type ToolResult, type UsbipRunner } from './usbip-tool.js';
import { CallStoppedError, CallTimeoutError, timeLimited } from './loop.js';
import { Waker } from './waker.js';
import { devidOf, type AttachResult, type KvcPortRecord, type PortRecords } from './vhci-attach.js';
import type { ReadToolRecord, ToolPortRecord } from './tool-records.js';

// A port record written before its port was last seen free is one the port outlived (a record is
// written after its attach); file times follow a coarser clock than Date.now(), by a tick at most:
// only a record older than this before that look is taken as outlived.
const FILE_CLOCK_MARGIN_MS = 100;
// The shortest wait between a server's passes while a replugged device is due (a try that is due
// and not made in a pass, as behind a silent server's, is not looped on).
const MIN_WAIT_MS = 50;
// "0.25", "1", "30": seconds as the journal says them.
const seconds = (ms: number): string => String(Math.round(ms / 10) / 100);
import { canonicalHost, lockKey } from './remote-host.js';
import type { DeviceConsumer } from '../devices/consumer.js';

// An attachment that held less than this long before it dropped does not reset the back-off.
export const STEADY_MS = 60_000;

// What a container-bound import is attached for (the core's DeviceConsumer, for USB/IP's rules).
export type UsbipConsumer = DeviceConsumer<ImportRule>;

// usbip's port records, read and written (ToolPortRecords; a fake folder in unit tests).
export interface ToolRecordStore {
  read(port: number): Promise<ReadToolRecord | undefined>;
  write(port: number, record: ToolPortRecord): Promise<void>;
  forget(port: number, record: ToolPortRecord): Promise<void>;
}

// kvc's own attach: the import request over TCP and the socket given to vhci_hcd, vhci's detach
// file for a port attached that no import came to own, and kvc's records of the ports it attached.
export interface OwnAttach {
  attach(request: { address: string; tcpPort: number; busid: string; signal: AbortSignal }): Promise<AttachResult>;
  detach(port: number): Promise<string | undefined>;
  readonly records: PortRecords;
}

// One import as status shows it: rule, server, device, state, local port and bus id, since, reconnects, why.
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

// What the importer is given: sysfs, the rules, a usbip runner, a consumer for container-bound imports, timings.
export interface ImporterOptions {
  readonly sys: string;
  // usbip's own port records (tool-records.ts: the host folder bound at /run/vhci_hcd in the
  // tools container): read to know what a port holds, written for the ports kvc attached itself
  // (what `usbip port` reads to name the server).
  readonly toolRecords: ToolRecordStore;
  readonly lockDir: string;
  // kvc's own attach (vhci-attach.ts); without it, or where this process cannot hand its socket
  // over, the usbip tool attaches.
  readonly own?: OwnAttach;
  readonly rules: readonly ImportRule[];
  // usbip for the loop (cancelled when the service stops) and for the detaches on stop (not).
  readonly usbip: UsbipRunner;
  readonly usbipOnStop: UsbipRunner;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly pollMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly consumer: UsbipConsumer | undefined;
  readonly onChange: () => void;
  // How long an attached device may stay unidentifiable (still enumerating) before it is
  // detached (default VERIFY_MS). Until then it is not verified and nothing is granted.
  readonly verifyMs?: number;
  // Time limits of the calls out of the loop (default IMPORT_TIMEOUTS), shorter in tests.
  readonly timeouts?: Partial<ImportTimeouts>;
  // Woken when a USB device comes or goes on this host (a vhci port's device gone: a drop), so
  // the loops look then, not at their next periodic look.
  readonly waker?: Waker;
  // After a drop, the device is asked for this often while it is not there again (default
  // REPLUG_RETRY_MS, or retryBaseMs when shorter), for REPLUG_WINDOW_MS; then as after any other
  // failed try. The first try after a drop waits this long, doubled for each drop soon after the last.
  readonly replugMs?: number;
  // How old a container's "yes" may be for an attach after a drop (default CONTAINER_FRESH_MS).
  readonly containerFreshMs?: number;
}

// A replugged device is back on the server within seconds: asked for this often
export const REPLUG_RETRY_MS = 250;
// for this long after a drop.
export const REPLUG_WINDOW_MS = 30_000;
// While it is away, its container is asked in the background (may it take a device?) when the
// last answer is older than this; an answer "yes" younger than this is the attach's answer.
export const CONTAINER_FRESH_MS = 5000;

// A container's answer: undefined (it may take a device) or why not, and when it was asked.
interface Verdict {
  readonly at: number;
  readonly blocked: string | undefined;
}

// How long each kind of call out of the importing loops may take before it counts as failed.
export interface ImportTimeouts {
  // getent ahosts for the server's name.
  readonly resolveMs: number;
  // kvc's device list on the server (HTTP); one that does not answer in time is a server without
  // it, and usbip's own list is asked instead.
  readonly listMs: number;
  // One run of the usbip tool (list, attach, detach).
  readonly usbipMs: number;
  // One look at this host: vhci's ports, usbip's port record, a device's IDs, the attach lock.
  readonly localMs: number;
  // One call for the container an import is attached for (inspect, grant, release).
  readonly consumerMs: number;
}

// The time limits of each call the importer makes (see ImportTimeouts).
export const IMPORT_TIMEOUTS: ImportTimeouts = { resolveMs: 5000, listMs: 5000, usbipMs: 15_000, localMs: 5000, consumerMs: 15_000 };

// The calls made on stop run after the loops' signal aborted: they are cut by their limit alone.
const NEVER = new AbortController().signal;

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
  // When its attachment last dropped (undefined once attached again).
  droppedAt: number | undefined;
  // kvc's record of the port it attached for this import (forgotten only while it is still this).
  ownRecord: KvcPortRecord | undefined;
  // The device's id on its server as vhci shows it on the port (once in use): with the local bus
  // id, what tells that the port still holds this attachment when no record says so.
  devid: number | undefined;
  // How long the try that attaches it took in its parts (said in the journal on a reattach): the
  // server's list, the container's answer, and since then (the lock, the attach).
  timing: { readonly listMs: number; readonly answerMs: number; readonly from: number } | undefined;
  // Its container's last answer, and the question in flight.
  verdict: Verdict | undefined;
  asking: Promise<Verdict> | undefined;
}

// The importing side: one loop per server, keeps each rule's device attached (vhci), detaches what went, reattaches on replug.
export class Importer {
  private readonly entries: Entry[];
  private readonly limits: ImportTimeouts;
  private done: Promise<void> = Promise.resolve();
  private portsPerController = 0;
  // Set once kvc's own attach said this process cannot make it: the tool attaches from then on.
  private toolAttaches = false;
  private readonly waker: Waker;
  // kvc's own attaches still running, a time limit or the stop having cut the try short: each
  // detaches what it attached; close() waits for them.
  private readonly attaching = new Set<Promise<AttachResult>>();
  // When each port was last seen free (ms since the epoch, taken before the look): a record written
  // before then is not believed (records are never removed behind another writer's back).
  private readonly freeSeen = new Map<number, number>();

  constructor(private readonly options: ImporterOptions) {
    this.entries = options.rules.map((rule) => ({
      rule, state: 'waiting', device: undefined, address: undefined, port: undefined, localBusid: undefined, verified: false, adopted: false,
      since: undefined, reconnects: 0, attempt: 0, nextTry: 0, why: undefined, droppedAt: undefined, ownRecord: undefined, devid: undefined, timing: undefined, verdict: undefined, asking: undefined,
    }));
    this.limits = { ...IMPORT_TIMEOUTS, ...options.timeouts };
    this.waker = options.waker ?? new Waker();
  }

  // Starts one loop per server; resolves once each server's imports had their first try.
  async start(): Promise<void> {
    const sized = this.readSize();
    const servers = byServer(this.entries);
    const firsts = servers.map((entries) => sized.then(() => this.pass(entries)));
    this.done = Promise.all(servers.map((entries, index) => this.loop(entries, firsts[index]!))).then(() => undefined);
    await Promise.all(firsts);
  }

  // Detaches what it attached (the service is stopping; what it adopted stays), then gives back
  // what containers got. The loops end as soon as the signal aborts: it cuts every call they make.
  async close(): Promise<void> {
    await this.done;
    await Promise.allSettled([...this.attaching]);
    await Promise.all(this.entries.map((entry) => this.letGo(entry)));
  }

  state(): ImportState[] {
    return this.entries.map((entry) => this.view(entry));
  }

  private view(entry: Entry): ImportState {
    return {
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
    };
  }

  private async readSize(): Promise<void> {
    const size = await this.limited('reading vhci_hcd\'s size', 'localMs', () => readVhciSize(this.options.sys)).catch((error: unknown) => {
      if (error instanceof CallTimeoutError) this.options.logger.warn(`import: ${error.message}`);
      return { controllers: 0, ports: 0 };
    });
    this.portsPerController = size.controllers > 0 ? size.ports / size.controllers : 0;
  }

  // One server's loop: its first pass (started by start), then one every poll, on each USB event
  // (a drop is seen at once), and when a replugged device is due to be asked for, until the stop.
  private async loop(entries: readonly Entry[], first: Promise<void>): Promise<void> {
    const { pollMs, signal, logger } = this.options;
    let seen = this.waker.generation;
    await first.catch(() => undefined);
    while (!signal.aborted) {
      const now = Date.now();
      const due = entries.filter((entry) => entry.state !== 'attached' && entry.droppedAt !== undefined && now - entry.droppedAt < REPLUG_WINDOW_MS).map((entry) => entry.nextTry - now);
      await this.waker.wait(seen, Math.min(this.waker.waitMs(pollMs), ...due.map((ms) => Math.max(ms, MIN_WAIT_MS))), signal);
      if (signal.aborted) break;
      seen = this.waker.generation;
      await this.pass(entries).catch((error: unknown) => logger.warn(`import: ${(error as Error).message}`));
    }
  }

  // One look at each import of one server, in turn; says so when what status shows changed. Once
  // a try ran out of time, the server's other tries wait for the next pass (they would wait as
  // long for the same silent server); the attached imports are still looked at.
  private async pass(entries: readonly Entry[]): Promise<void> {
    const before = JSON.stringify(entries.map((entry) => this.view(entry)));
    let stalled = false;
    for (const entry of entries) {
      if (this.options.signal.aborted) break;
      if (stalled && entry.state !== 'attached') continue;
      stalled = (await this.step(entry)) || stalled;
    }
    if (JSON.stringify(entries.map((entry) => this.view(entry))) !== before) this.options.onChange();
  }

  // One look at one import: watched while attached, else tried once its back-off is over. A call
  // that ran out of time is a failed try (while attached, a failed look); one the stop cut is none.
  // True when a try ran out of time.
  private async step(entry: Entry): Promise<boolean> {
    try {
      const ports = await this.ports();
      if (entry.state === 'attached') await this.watch(entry, ports);
      else if (Date.now() >= entry.nextTry) await this.attach(entry, ports);
      return false;
    } catch (error) {
      if (error instanceof CallStoppedError) return false;
      if (!(error instanceof CallTimeoutError)) throw error;
      const why = `${entry.rule.server}: ${error.message}`;
      if (entry.state === 'attached') {
        this.sayOnce(entry, `import ${entry.rule.name}: ${why}; looking again`);
        return false;
      }
      this.retry(entry, 'waiting', why, 'warn');
      return true;
    }
  }

  // On stop: detaches the device unless it was adopted, and takes back what its container got.
  private async letGo(entry: Entry): Promise<void> {
    const { logger } = this.options;
    if (entry.state === 'attached' && entry.port !== undefined) {
      if (entry.adopted) {
        logger.info(`import ${entry.rule.name}: port ${entry.port} left attached (it was attached before the service took it over)`);
      } else {
        const result = await this.detachOnStop(entry.port);
        if (result.ok) this.forgetOwn(entry);
        logger.info(`import ${entry.rule.name}: ${result.ok ? `detached from port ${entry.port}` : `could not detach port ${entry.port}: ${result.said}`}`);
      }
    }
    await this.release(entry, NEVER);
    entry.state = 'waiting';
  }

  // An attached device: still on its port, and the device it should be? Still wanted?
  private async watch(entry: Entry, ports: readonly VhciPort[]): Promise<void> {
    const { logger } = this.options;
    const port = ports.find((candidate) => candidate.port === entry.port);
    const record = port === undefined ? undefined : await this.record(port);
    // The record says so; or, with none (removed by hand, or never seen), the port still holds the
    // devid and local bus id it held: a missing record is not a drop (the port would stay attached
    // with no import watching it).
    const recorded = record !== undefined && record.busid === entry.device?.busid && record.host === entry.address;
    const same = record === undefined && port?.state === VDEV_ST_USED && entry.devid !== undefined && port.devid === entry.devid && port.localBusid === entry.localBusid;
    const still = port !== undefined && port.state !== VDEV_ST_NULL && (recorded || same);
    if (still) {
      if (entry.devid === undefined && port.state === VDEV_ST_USED) entry.devid = port.devid;
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
          if (!entry.adopted) await this.usbip(['detach', '--port', String(entry.port)]);
          logger.error(`import ${entry.rule.name}: port ${entry.port} holds ${wrong}, not ${describeMatch(entry.rule.match)}: ${entry.adopted ? 'not taken over' : 'detached'}`);
          this.dropped(entry, 'refused', `the device ${entry.device?.busid ?? ''} of ${entry.rule.server} turned out to be ${wrong}`);
          return;
        }
        entry.verified = found.kind === 'ok';
      }
      await this.serve(entry, port);
      return;
    }
    entry.reconnects += 1;
    await this.release(entry);
    const held = entry.since === undefined ? 0 : Date.now() - entry.since.getTime();
    // A steady attachment that dropped is tried again at once; one that keeps dropping backs off.
    const attempt = held >= STEADY_MS ? 0 : entry.attempt + 1;
    // Bounded: from the replug interval, doubling for an attachment that keeps dropping.
    const wait = backoffMs(attempt, this.replugMs(), this.options.retryMaxMs);
    logger.warn(`import ${entry.rule.name}: ${entry.device?.busid ?? ''} from ${entry.rule.server} dropped off port ${entry.port} (server gone, device unplugged or network lost); attaching again in ${seconds(wait)} s`);
    this.dropped(entry, 'waiting', 'dropped; attaching again', attempt, wait);
    entry.droppedAt = Date.now();
  }

  // A container-bound import that is attached: detached when its container went, else its
  // container is given the device's nodes (once the device is verified).
  private async serve(entry: Entry, port: VhciPort): Promise<void> {
    const { rule } = entry;
    const consumer = this.options.consumer;
    if (rule.container === undefined || consumer === undefined) return;
    if (await this.limited(`asking whether container ${rule.container} is gone`, 'consumerMs', () => consumer.gone(rule))) {
      const result = entry.adopted ? { ok: true, said: '' } : await this.usbip(['detach', '--port', String(entry.port)]);
      await this.release(entry);
      this.options.logger.info(`import ${rule.name}: container ${rule.container} is gone: ${result.ok ? `detached port ${entry.port}` : `could not detach port ${entry.port}: ${result.said}`}; attached again when it runs again`);
      this.reset(entry, 'waiting', `container ${rule.container} is not running`, 0);
      return;
    }
    if (entry.verified) await this.limited(`giving container ${rule.container} the device's nodes`, 'consumerMs', () => consumer.grant(rule, port.localBusid)).catch((error: unknown) => this.sayOnce(entry, `import ${rule.name}: ${(error as Error).message}`));
  }

  // Takes back what the import's container was given; a failure is said, not fatal.
  private async release(entry: Entry, until = this.options.signal): Promise<void> {
    const { rule } = entry;
    const consumer = this.options.consumer;
    if (rule.container === undefined || consumer === undefined) return;
    await this.limited(`taking back what container ${rule.container} was given`, 'consumerMs', () => consumer.release(rule), until).catch((error: unknown) => {
      if (!(error instanceof CallStoppedError)) this.options.logger.warn(`import ${rule.name}: ${(error as Error).message}`);
    });
  }

  private dropped(entry: Entry, state: Entry['state'], why: string, attempt = entry.attempt + 1, wait = backoffMs(attempt, this.options.retryBaseMs, this.options.retryMaxMs)): void {
    this.reset(entry, state, why, attempt, wait);
  }

  private reset(entry: Entry, state: Entry['state'], why: string, attempt: number, wait = 0): void {
    // The port is no longer this import's: kvc's record of it goes, if it is still this import's (a
    // record outlived by its port is not believed anyway: read checks the devid).
    this.forgetOwn(entry);
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

  private forgetOwn(entry: Entry): void {
    const { port, ownRecord } = entry;
    if (port !== undefined && ownRecord !== undefined) {
      this.options.own?.records.forget(port, ownRecord);
      // usbip's record kvc wrote with it, if it still says that.
      this.options.toolRecords.forget(port, ownRecord).catch(() => undefined);
    }
    entry.ownRecord = undefined;
    entry.devid = undefined;
  }

  private freshMs(): number {
    return this.options.containerFreshMs ?? CONTAINER_FRESH_MS;
  }

  private replugMs(): number {
    return this.options.replugMs ?? Math.min(REPLUG_RETRY_MS, this.options.retryBaseMs);
  }

  private sayOnce(entry: Entry, line: string): void {
    if (entry.why === line) return;
    entry.why = line;
    this.options.logger.warn(line);
  }

  // A failed try: backs off (base, doubling, up to the maximum); with `grow` false (a server that
  // answers that the device is not there yet) asked again every base interval, one list request.
  private retry(entry: Entry, state: Entry['state'], why: string, level: 'info' | 'warn' | 'error', grow = true): void {
    const { retryBaseMs, retryMaxMs, logger } = this.options;
    // Just dropped (unplugged, most likely): asked for often while it is plugged back.
    const replugging = this.replugging(entry);
    const wait = grow ? backoffMs(entry.attempt, retryBaseMs, retryMaxMs) : replugging ? this.replugMs() : retryBaseMs;
    if (entry.why !== why) logger[level](`import ${entry.rule.name}: ${why}; ${grow ? `trying again in ${seconds(wait)} s (then less often, up to every ${Math.round(retryMaxMs / 1000)} s)` : `asking again every ${seconds(wait)} s${replugging ? ` for ${REPLUG_WINDOW_MS / 1000} s after the drop, then every ${seconds(retryBaseMs)} s` : ''}`}`);
    entry.state = state;
    entry.why = why;
    if (grow) entry.attempt += 1;
    entry.nextTry = Date.now() + wait;
  }

  // One try at attaching: find the one device the rule names, then attach it under its lock. The
  // container is asked whether it may take the device first; while a replugged device is due (asked
  // for every replugMs), the server's list first instead: it is one HTTP request, the container's
  // inspect a runtime call of a second or more under emulation. That inspect is made in the
  // background while the device is away (every CONTAINER_FRESH_MS at most), so that once it is
  // back, a "yes" younger than that is the answer and the attach does not wait for one.
  private async attach(entry: Entry, ports: readonly VhciPort[]): Promise<void> {
    const { rule } = entry;
    const replugging = this.replugging(entry);
    if (!replugging && await this.blocked(entry)) return;
    const address = await this.limited(`resolving ${rule.server}`, 'resolveMs', (signal) => canonicalHost(rule.server, { signal }));
    entry.address = address;
    const asked = Date.now();
    const device = await this.find(entry, address);
    if (device === undefined) {
      if (replugging) this.askAhead(entry);
      return;
    }
    const listed = Date.now();
    if (replugging && await this.blocked(entry, this.freshMs())) return;
    entry.timing = { listMs: listed - asked, answerMs: Date.now() - listed, from: Date.now() };
    const other = this.holder(entry, address, device.busid);
    if (other !== undefined) return this.refuseHeld(entry, device, other);
    const mine = await this.attachedPort(address, device.busid, ports);
    if (mine !== undefined) return this.attached(entry, device, mine.port, 'already attached on this host; taken over', true, mine.own);
    if (device.state === 'used') return this.retry(entry, 'waiting', `${device.busid} is imported by another client of ${rule.server}; not attached twice`, 'warn');
    await this.claim(entry, address, device);
  }

  // Whether the import's container cannot take a device now (then a retry, said why). A "yes"
  // asked less than freshMs ago is taken as it is; a "no" is always asked again.
  private async blocked(entry: Entry, freshMs = 0): Promise<boolean> {
    if (entry.rule.container === undefined || this.options.consumer === undefined) return false;
    const last = entry.verdict;
    const verdict = last !== undefined && last.blocked === undefined && Date.now() - last.at < freshMs ? last : await this.ask(entry);
    if (verdict.blocked === undefined) return false;
    this.retry(entry, 'waiting', verdict.blocked, 'info');
    return true;
  }

  // Asks the import's container whether it may take a device (one question in flight at a time).
  private ask(entry: Entry): Promise<Verdict> {
    const { rule } = entry;
    const consumer = this.options.consumer!;
    if (entry.asking !== undefined) return entry.asking;
    const at = Date.now();
    const asking = this.limited(`inspecting container ${rule.container}`, 'consumerMs', () => consumer.blocked(rule)).then((blocked) => {
      entry.verdict = { at, blocked };
      return entry.verdict;
    }).finally(() => {
      entry.asking = undefined;
    });
    entry.asking = asking;
    return asking;
  }

  // A replugged device is away: its container is asked now, in the background, unless it was
  // asked less than half of CONTAINER_FRESH_MS ago: whenever the device is back, a "yes" younger
  // than CONTAINER_FRESH_MS is at hand (an inspect takes a second or more under emulation; the
  // attach then waited for one after a device was away longer than that). A failed question is
  // asked again at the attach.
  private askAhead(entry: Entry): void {
    if (entry.rule.container === undefined || this.options.consumer === undefined || entry.asking !== undefined) return;
    if (entry.verdict !== undefined && Date.now() - entry.verdict.at < this.freshMs() / 2) return;
    this.ask(entry).catch(() => undefined);
  }

  // Whether the import dropped less than REPLUG_WINDOW_MS ago and is not attached again yet.
  private replugging(entry: Entry): boolean {
    return entry.state !== 'attached' && entry.droppedAt !== undefined && Date.now() - entry.droppedAt < REPLUG_WINDOW_MS;
  }

  // The one device of the server's list the import names; undefined when there is none (a retry).
  private async find(entry: Entry, address: string): Promise<RemoteDevice | undefined> {
    const { rule } = entry;
    const listed = rule.listPort === 0 ? undefined : await fetchDeviceList(address, rule.listPort, { timeoutMs: this.limits.listMs, signal: this.options.signal });
    let devices: RemoteDevice[];
    if (listed !== undefined) {
      devices = listed;
    } else {
      const result = await this.usbip([...tcpPortArgs(rule), 'list', '--remote', address]);
      if (!result.ok) return void this.retry(entry, 'waiting', `${rule.server} does not answer (${result.said})`, 'warn');
      devices = parseRemoteList(result.stdout);
    }
    const found = resolveImport(rule, devices, listed !== undefined);
    if (found.kind === 'ambiguous') return void this.retry(entry, 'refused', `not attached: ${found.why}`, 'error');
    // Not there (yet): asked again soon; no serials to tell devices apart: that will not change soon.
    if (found.kind === 'absent') return void this.retry(entry, 'waiting', found.why, 'info', listed === undefined && rule.match.kind === 'id' && rule.match.serial !== undefined);
    return found.device;
  }

  // Attaches the device under the attach lock the host command takes too; what another import or
  // the host command attached meanwhile is not attached again.
  private async claim(entry: Entry, address: string, device: RemoteDevice): Promise<void> {
    const { rule } = entry;
    const lock = await this.lock(address, device.busid);
    if (lock === undefined) return this.retry(entry, 'waiting', `another attach of ${device.busid} from ${rule.server} is in progress on this host`, 'warn');
    try {
      // Another server's loop may have attached it for another import (one address, two names).
      const other = this.holder(entry, address, device.busid);
      if (other !== undefined) return this.refuseHeld(entry, device, other);
      const again = await this.attachedPort(address, device.busid, await this.ports());
      if (again !== undefined) return this.attached(entry, device, again.port, 'already attached on this host; taken over', true, again.own);
      const own = await this.attachOwn(entry, address, device);
      if (own === 'failed') return;
      if (own !== undefined) return this.attached(entry, device, own.port, 'attached', false, own.record);
      const result = await this.usbip([...tcpPortArgs(rule), 'attach', '--remote', address, '--busid', device.busid]);
      if (!result.ok) return this.retry(entry, 'waiting', `attaching ${device.busid} from ${rule.server} failed: ${result.said}`, 'warn');
      const held = await this.attachedPort(address, device.busid, await this.ports());
      if (held === undefined) return this.retry(entry, 'waiting', `usbip attached ${device.busid} but no vhci port shows it`, 'warn');
      this.attached(entry, device, held.port, 'attached', false, undefined);
    } finally {
      closeSync(lock);
    }
  }

  // kvc's own attach: the port it took (recorded), 'failed' (a retry, said why), or undefined
  // when the usbip tool is to attach instead (no own attach, or it cannot hand its socket over).
  // A port attached that this import does not come to own (out of time, the stop, a record not
  // written) is detached again: no port is left attached with no one to watch it.
  private async attachOwn(entry: Entry, address: string, device: RemoteDevice): Promise<{ port: VhciPort; record: KvcPortRecord } | 'failed' | undefined> {
    const { own, logger } = this.options;
    if (own === undefined || this.toolAttaches) return undefined;
    const { rule } = entry;
    const result = await this.limited(`attaching ${device.busid} from ${rule.server}`, 'usbipMs', (signal) => this.track(rule, own.attach({ address, tcpPort: rule.port, busid: device.busid, signal }), signal));
    if (!result.ok && result.tool) {
      this.toolAttaches = true;
      logger.warn(`import: ${result.said}; the usbip tool attaches from now on`);
      return undefined;
    }
    if (!result.ok) {
      this.retry(entry, 'waiting', `attaching ${device.busid} from ${rule.server} failed: ${result.said}`, 'warn');
      return 'failed';
    }
    const record: KvcPortRecord = { host: address, port: String(rule.port), busid: device.busid, devid: devidOf(result.device) };
    try {
      const port = (await this.ports()).find((candidate) => candidate.port === result.port && candidate.state !== VDEV_ST_NULL);
      if (port === undefined) {
        this.retry(entry, 'waiting', `${device.busid} from ${rule.server} was attached on port ${result.port}, which dropped it at once`, 'warn');
        return 'failed';
      }
      // usbip's record (for `usbip port`), then kvc's.
      await this.limited(`writing usbip's record of port ${port.port}`, 'localMs', () => this.options.toolRecords.write(port.port, record)).catch((error: unknown) => {
        if (error instanceof CallStoppedError) throw error;
        logger.warn(`import ${rule.name}: usbip's record of port ${port.port} was not written (usbip port names no server for it): ${(error as Error).message}`);
      });
      await this.limited(`recording port ${port.port}`, 'localMs', () => own.records.write(port.port, record));
      return { port, record };
    } catch (error) {
      const left = await timeLimited(`detaching port ${result.port}`, this.limits.localMs, NEVER, () => own.detach(result.port)).catch((cut: unknown) => (cut as Error).message);
      await this.options.toolRecords.forget(result.port, record).catch(() => undefined);
      const said = `${device.busid} from ${rule.server} was attached on port ${result.port} but not taken on (${(error as Error).message}): ${left === undefined ? 'detached again' : `could not be detached: ${left}`}`;
      // Out of time or stopped: said as any other call cut short (step); otherwise a failed try.
      if (error instanceof CallTimeoutError || error instanceof CallStoppedError) {
        logger.warn(`import ${rule.name}: ${said}`);
        throw error;
      }
      this.retry(entry, 'waiting', said, 'warn');
      return 'failed';
    }
  }

  // An attach kept until it is over, even when its try was cut short (then what it came to is said).
  private track(rule: ImportRule, attaching: Promise<AttachResult>, signal: AbortSignal): Promise<AttachResult> {
    this.attaching.add(attaching);
    const over = attaching.then((result) => {
      if (signal.aborted && !result.ok) this.options.logger.warn(`import ${rule.name}: an attach cut short: ${result.said}`);
    }, () => undefined);
    void over.finally(() => this.attaching.delete(attaching));
    return attaching;
  }

  // The other import that holds this device of that address, if one does.
  private holder(entry: Entry, address: string, busid: string): Entry | undefined {
    return this.entries.find((candidate) => candidate !== entry && candidate.state === 'attached' && candidate.address === address && candidate.device?.busid === busid);
  }

  private refuseHeld(entry: Entry, device: RemoteDevice, other: Entry): void {
    this.retry(entry, 'refused', `not attached: ${device.busid} of ${entry.rule.server} is the device [import.${other.rule.name}] holds; one device is attached for one import`, 'error');
  }

  private attached(entry: Entry, device: RemoteDevice, port: VhciPort, how: string, adopted: boolean, own: KvcPortRecord | undefined): void {
    const wasDropped = entry.reconnects > 0;
    entry.state = 'attached';
    entry.ownRecord = own;
    entry.devid = own?.devid ?? (port.state === VDEV_ST_USED ? port.devid : undefined);
    entry.device = device;
    entry.port = port.port;
    entry.localBusid = port.localBusid;
    entry.verified = false;
    entry.adopted = adopted;
    entry.since = new Date();
    entry.nextTry = 0;
    entry.why = undefined;
    entry.droppedAt = undefined;
    const controller = this.portsPerController === 0 ? 0 : Math.floor(port.port / this.portsPerController);
    const { timing } = entry;
    entry.timing = undefined;
    const took = timing === undefined ? '' : `; the list ${timing.listMs} ms, the container's answer ${timing.answerMs} ms, the attach ${Date.now() - timing.from} ms`;
    this.options.logger.info(`import ${entry.rule.name}: ${device.busid} from ${entry.rule.server} ${how} on port ${port.port} (vhci_hcd.${controller}, ${port.hub})${wasDropped ? ` (reconnect ${entry.reconnects}${took})` : ''}${entry.rule.container === undefined ? '' : `, for container ${entry.rule.container}`}`);
  }

  // Whether the device on the port is what the import names (VID:PID, serial): ok, wrong (what it
  // is), or unreadable (its IDs are not in sysfs yet, or not read in time).
  private async identify(entry: Entry, localBusid: string): Promise<{ kind: 'ok' } | { kind: 'unreadable' } | { kind: 'wrong'; is: string }> {
    const dir = join(this.options.sys, 'bus/usb/devices', localBusid);
    const [vendor, product, serial] = await this.limited(`reading the IDs of ${localBusid}`, 'localMs', (signal) => {
      const read = (file: string): Promise<string | undefined> => readFile(join(dir, file), { encoding: 'utf8', signal }).then((text) => oneLine(text.trim()), () => undefined);
      return Promise.all([read('idVendor'), read('idProduct'), read('serial')]);
    }).catch((error: unknown) => {
      if (error instanceof CallTimeoutError) return [undefined, undefined, undefined];
      throw error;
    });
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
  // With kvc's own record of it, when it is an attach of kvc's (taken over after a restart: the
  // record is forgotten when it drops).
  private async attachedPort(address: string, busid: string, ports: readonly VhciPort[]): Promise<{ port: VhciPort; own: KvcPortRecord | undefined } | undefined> {
    for (const port of ports) {
      if (port.state === VDEV_ST_NULL) continue;
      const record = await this.record(port);
      if (record !== undefined && record.host === address && record.busid === busid) return { port, own: record.own };
    }
    return undefined;
  }

  // What the port holds, by kvc's own record of it (believed while the port holds the devid it
  // recorded; `own` then) or else the usbip tool's. Neither when written before the port was last
  // seen free (outlived); not the tool's when kvc's is not believed and the tool's says the same
  // and is no newer (kvc wrote both, for an attach of its own the port no longer holds).
  private record(port: VhciPort): Promise<PortHolds | undefined> {
    return this.limited(`reading the record of port ${port.port}`, 'localMs', async () => {
      const freeAt = this.freeSeen.get(port.port);
      const outlived = (writtenMs: number): boolean => freeAt !== undefined && writtenMs < freeAt - FILE_CLOCK_MARGIN_MS;
      const own = await this.options.own?.records.read(port);
      if (own?.kind === 'believed' && !outlived(own.writtenMs)) return { ...own.record, own: own.record };
      const tool = await this.options.toolRecords.read(port.port);
      if (tool === undefined || outlived(tool.writtenMs)) return undefined;
      if (own !== undefined && own.kind !== 'none' && sameRecord(tool.record, own.record) && tool.writtenMs <= own.writtenMs) return undefined;
      return { ...tool.record, own: undefined };
    });
  }

  // vhci's ports as they are now; each free one noted as seen free (at the time before the look).
  private async ports(): Promise<VhciPort[]> {
    const at = Date.now();
    const ports = await this.limited('reading vhci_hcd\'s ports', 'localMs', () => readVhciPorts(this.options.sys));
    for (const port of ports) if (port.state === VDEV_ST_NULL) this.freeSeen.set(port.port, at);
    return ports;
  }

  // One run of usbip in a loop, cut by its limit or the stop.
  private usbip(args: readonly string[]): Promise<ToolResult> {
    return this.limited(`usbip ${args.join(' ')}`, 'usbipMs', (signal) => this.options.usbip(args, { signal }));
  }

  // A detach on stop, after the loops' signal aborted: cut by its limit alone, which is a failure.
  private detachOnStop(port: number): Promise<ToolResult> {
    const args = ['detach', '--port', String(port)];
    return this.limited(`usbip ${args.join(' ')}`, 'usbipMs', (signal) => this.options.usbipOnStop(args, { signal }), NEVER)
      .catch((error: unknown) => ({ ok: false, said: (error as Error).message, stdout: '' }));
  }

  // One call out of the loop, cut when its time limit runs out or `until` aborts (the stop).
  private limited<T>(what: string, limit: keyof ImportTimeouts, call: (signal: AbortSignal) => Promise<T>, until = this.options.signal): Promise<T> {
    return timeLimited(what, this.limits[limit], until, call);
  }

  // The lock the host command's guard takes for `usbip attach` of this device; undefined when held.
  private async lock(address: string, busid: string): Promise<number | undefined> {
    await mkdir(this.options.lockDir, { recursive: true, mode: 0o700 });
    const fd = openSync(join(this.options.lockDir, lockKey(address, busid)), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
    try {
      if (await this.limited(`taking the attach lock of ${busid}`, 'localMs', (signal) => flockExclusive(fd, { wait: false, signal }))) return fd;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    closeSync(fd);
    return undefined;
  }
}

// What a port's record says it holds; `own` when it is kvc's record of an attach of its own.
interface PortHolds {
  readonly host: string;
  readonly port: string;
  readonly busid: string;
  readonly own: KvcPortRecord | undefined;
}

function sameRecord(a: ToolPortRecord, b: ToolPortRecord): boolean {
  return a.host === b.host && a.port === b.port && a.busid === b.busid;
}

// The imports by server, in the file's order: each server's are looked at by a loop of their own.
function byServer(entries: readonly Entry[]): Entry[][] {
  const servers = new Map<string, Entry[]>();
  for (const entry of entries) {
    const key = entry.rule.server.toLowerCase();
    servers.set(key, [...(servers.get(key) ?? []), entry]);
  }
  return [...servers.values()];
}

// usbip's option for a server that does not listen on the default port.
function tcpPortArgs(rule: ImportRule): string[] {
  return rule.port === 3240 ? [] : ['--tcp-port', String(rule.port)];
}
