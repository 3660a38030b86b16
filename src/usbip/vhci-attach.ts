// kvc's own attach, without a run of the usbip tool (a container exec, a second or more under
// emulation): the import request of USB/IP's protocol over TCP (OP_REQ_IMPORT, as `usbip attach`
// sends it), then the connected socket handed to vhci_hcd through its attach file
// ("port sockfd devid speed", drivers/usb/usbip/vhci_sysfs.c). The kernel takes its own reference
// to the socket; this process closes its descriptor and the kernel keeps the connection.
// The pure parts (the request, the reply, the port, the line, the record) are tested on data; the
// effectful part is attachOverTcp.
import { connect, type Socket } from 'node:net';
import { constants, readFileSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readVhciPorts, VDEV_ST_NOTASSIGNED, VDEV_ST_NULL, VDEV_ST_USED, type VhciPort } from './usb-sysfs.js';
import { replaceFile } from '../host/replace-file.js';

// The protocol's version (tools/usb/usbip/src/usbip_network.h),
export const USBIP_VERSION = 0x0111;
// the import request's code,
export const OP_REQ_IMPORT = 0x8003;
// and its reply's.
export const OP_REP_IMPORT = 0x0003;
const HEADER_BYTES = 8;
const BUSID_BYTES = 32;
// struct usbip_usb_device: path[256], busid[32], busnum, devnum, speed (u32), idVendor,
// idProduct, bcdDevice (u16), six u8.
export const DEVICE_BYTES = 312;
// A whole reply that gives the device: the header and the device.
export const REPLY_BYTES = HEADER_BYTES + DEVICE_BYTES;
// enum usb_device_speed: USB_SPEED_SUPER goes on a vhci SuperSpeed hub port, any other on a high-speed one.
const USB_SPEED_SUPER = 5;
// Low, full, high, wireless and SuperSpeed: what vhci_hcd takes (it refuses SuperSpeed Plus, 6).
const KNOWN_SPEEDS = new Set([1, 2, 3, 4, 5]);

// The request: the common header (version, code, status 0) and the bus id, NUL-padded.
export function importRequest(busid: string): Buffer {
  const bytes = Buffer.from(busid, 'utf8');
  if (bytes.length === 0 || bytes.length >= BUSID_BYTES || !/^[0-9]+-[0-9.]+$/.test(busid)) throw new RangeError(`not a USB bus id: ${JSON.stringify(busid)}`);
  const request = Buffer.alloc(HEADER_BYTES + BUSID_BYTES);
  request.writeUInt16BE(USBIP_VERSION, 0);
  request.writeUInt16BE(OP_REQ_IMPORT, 2);
  request.writeUInt32BE(0, 4);
  bytes.copy(request, HEADER_BYTES);
  return request;
}

// The device the server gave, as vhci needs it.
export interface ImportedDevice {
  readonly busid: string;
  readonly busnum: number;
  readonly devnum: number;
  readonly speed: number;
  readonly vendor: string;
  readonly product: string;
}

// The reply so far: incomplete, the device, or refused (why).
export type ImportReply =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'ok'; readonly device: ImportedDevice }
  | { readonly kind: 'refused'; readonly why: string };

type Answer = Exclude<ImportReply, { readonly kind: 'incomplete' }>;

// What the server answered so far (the bytes received, in order): incomplete until the header, and
// after a status of 0 the device, are in. Anything but the reply to this request is refused.
export function parseImportReply(bytes: Buffer, busid: string): ImportReply {
  if (bytes.length < HEADER_BYTES) return { kind: 'incomplete' };
  const version = bytes.readUInt16BE(0);
  const code = bytes.readUInt16BE(2);
  const status = bytes.readUInt32BE(4);
  if (version !== USBIP_VERSION) return { kind: 'refused', why: `the server speaks USB/IP version ${hex(version)}, not ${hex(USBIP_VERSION)}` };
  if (code !== OP_REP_IMPORT) return { kind: 'refused', why: `the server answered with operation ${hex(code)}, not the import's reply` };
  // usbipd's statuses (usbip_network.h): 1 failed, 2 device busy, 3 device error, 4 no such device, 5 an unexpected error.
  if (status !== 0) return { kind: 'refused', why: `the server refused the import of ${busid}: ${STATUS[status] ?? `status ${status}`}` };
  if (bytes.length < REPLY_BYTES) return { kind: 'incomplete' };
  if (bytes.length > REPLY_BYTES) return { kind: 'refused', why: `the server sent ${bytes.length - REPLY_BYTES} bytes after its reply` };
  const device = bytes.subarray(HEADER_BYTES);
  const given = cString(device.subarray(256, 256 + BUSID_BYTES));
  if (given !== busid) return { kind: 'refused', why: `the server gave ${JSON.stringify(given)}, not the device asked for (${busid})` };
  const speed = device.readUInt32BE(296);
  if (!KNOWN_SPEEDS.has(speed)) return { kind: 'refused', why: `the server gave ${busid} a speed vhci_hcd does not take (${speed})` };
  const busnum = device.readUInt32BE(288);
  const devnum = device.readUInt32BE(292);
  if (busnum > 0xffff || devnum > 0xffff) return { kind: 'refused', why: `the server gave ${busid} bus ${busnum} device ${devnum}, out of range` };
  return {
    kind: 'ok',
    device: { busid, busnum, devnum, speed, vendor: device.readUInt16BE(300).toString(16).padStart(4, '0'), product: device.readUInt16BE(302).toString(16).padStart(4, '0') },
  };
}

const STATUS: Record<number, string> = { 1: 'failed', 2: 'the device is busy (imported by another client)', 3: 'device error', 4: 'no such device exported', 5: 'an unexpected error' };

function hex(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

// The first free port of the hub the speed goes on, skipping those already tried; as the usbip
// tool picks one.
export function pickPort(ports: readonly VhciPort[], speed: number, tried: ReadonlySet<number> = new Set()): VhciPort | undefined {
  const hub = speed === USB_SPEED_SUPER ? 'ss' : 'hs';
  return ports.find((port) => port.hub === hub && port.state === VDEV_ST_NULL && !tried.has(port.port));
}

// The device's id on the server as vhci keeps it (bus number, device number).
export function devidOf(device: ImportedDevice): number {
  return ((device.busnum << 16) | device.devnum) >>> 0;
}

// vhci's attach line.
export function attachLine(port: number, sockfd: number, device: ImportedDevice): string {
  return `${port} ${sockfd} ${devidOf(device)} ${device.speed}`;
}

// kvc's record of a port it attached: server address, TCP port, bus id (as usbip's own record,
// /run/vhci_hcd/port<N>) and the port's devid then, so that a record outlived by its attachment
// (the port taken by another attach since) is not believed.
export interface KvcPortRecord {
  readonly host: string;
  readonly port: string;
  readonly busid: string;
  readonly devid: number;
}

// The record's one line.
export function formatRecord(record: KvcPortRecord): string {
  return `${record.host} ${record.port} ${record.busid} ${record.devid.toString(16)}\n`;
}

// A record read back; undefined for anything kvc did not write.
export function parseRecord(text: string): KvcPortRecord | undefined {
  const [host, port, busid, devid, extra] = text.trim().split(/\s+/);
  if (host === undefined || port === undefined || busid === undefined || devid === undefined || extra !== undefined || !/^[0-9a-f]{1,8}$/.test(devid)) return undefined;
  return { host, port, busid, devid: Number.parseInt(devid, 16) };
}

// What kvc's record of a port says (PortRecords.read), with when it was written (ms since the
// epoch, the file's mtime).
export type PortRecordRead =
  | { readonly kind: 'believed'; readonly record: KvcPortRecord; readonly writtenMs: number }
  | { readonly kind: 'stale'; readonly record: KvcPortRecord; readonly writtenMs: number }
  | { readonly kind: 'none' };

// kvc's records, one file per port in a folder of kvc's run directory.
export class PortRecords {
  constructor(private readonly dir: string) {}

  async write(port: number, record: KvcPortRecord): Promise<void> {
    await replaceFile(this.dir, `port${port}`, formatRecord(record), { fileMode: 0o600, dirMode: 0o700 });
  }

  // kvc's record of the port: believed while the port still holds what it records (in use with the
  // devid recorded; or just attached, not assigned yet, when vhci shows devid 0); stale when the
  // port holds anything else; none when the port is free or kvc has no record of it.
  async read(port: VhciPort): Promise<PortRecordRead> {
    if (port.state === VDEV_ST_NULL) return { kind: 'none' };
    let file: FileHandle | undefined;
    try {
      file = await open(this.file(port.port), constants.O_RDONLY | constants.O_NOFOLLOW);
      const record = parseRecord(await file.readFile('utf8'));
      if (record === undefined) return { kind: 'none' };
      const writtenMs = (await file.stat()).mtimeMs;
      const holds = port.state === VDEV_ST_NOTASSIGNED || (port.state === VDEV_ST_USED && port.devid === record.devid);
      return { kind: holds ? 'believed' : 'stale', record, writtenMs };
    } catch {
      return { kind: 'none' };
    } finally {
      await file?.close();
    }
  }

  // Removes the port's record if it is still this one (another import may have written its own for
  // the port since). At once (synchronous): nothing else in this process writes between the look
  // and the removal.
  forget(port: number, record: KvcPortRecord): void {
    try {
      if (readFileSync(this.file(port), 'utf8') === formatRecord(record)) unlinkSync(this.file(port));
    } catch {
      // None there: nothing to forget.
    }
  }

  private file(port: number): string {
    return join(this.dir, `port${port}`);
  }
}

// What one attach came to.
export type AttachResult =
  | { readonly ok: true; readonly port: number; readonly device: ImportedDevice }
  // Refused or failed; `tool` when the usbip tool should be asked instead (this process cannot
  // hand its socket to the kernel), not that the server or vhci said no.
  | { readonly ok: false; readonly said: string; readonly tool: boolean };

// What to attach: the server's address and TCP port, the bus id there, and where /sys is.
export interface AttachRequest {
  readonly address: string;
  readonly tcpPort: number;
  readonly busid: string;
  readonly sys: string;
  // The stop or the time limit: before the write to vhci, nothing is attached; after it, the port
  // is detached again.
  readonly signal: AbortSignal;
}

// How many times a port another attach took between the look and the write (EBUSY) is picked again.
const BUSY_TRIES = 4;

// Connects, asks for the device, and gives the connection to a free vhci port of its speed.
export async function attachOverTcp(request: AttachRequest): Promise<AttachResult> {
  const { address, tcpPort, busid, sys, signal } = request;
  let socket: Socket | undefined;
  try {
    const reply = await new Promise<{ socket: Socket; answer: Answer }>((resolve, reject) => {
      let received = Buffer.alloc(0);
      const abort = (): void => {
        socket?.destroy();
        reject(signal.reason instanceof Error ? signal.reason : new Error('stopped'));
      };
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort, { once: true });
      const done = (answer: Answer): void => {
        signal.removeEventListener('abort', abort);
        resolve({ socket: socket!, answer });
      };
      socket = connect({
        host: address,
        port: tcpPort,
        noDelay: true,
        keepAlive: true,
        // Read into a buffer of kvc's: returning false stops the reads (readStop) once the reply is
        // in, so that nothing in this process reads what the server sends the kernel afterwards.
        onread: {
          buffer: Buffer.alloc(4096),
          callback: (length: number, buffer: Uint8Array): boolean => {
            received = Buffer.concat([received, buffer.subarray(0, length)]);
            const answer = parseImportReply(received, busid);
            if (answer.kind === 'incomplete') return true;
            done(answer);
            return false;
          },
        },
      });
      socket.once('connect', () => socket!.write(importRequest(busid)));
      // Kept for the socket's life (a second error after the first must not go unheard).
      socket.on('error', (error) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      });
      socket.once('end', () => done({ kind: 'refused', why: 'the server closed the connection before its reply' }));
    });
    if (reply.answer.kind !== 'ok') return { ok: false, said: reply.answer.why, tool: false };
    const { device } = reply.answer;
    const sockfd = descriptorOf(reply.socket);
    if (sockfd === undefined) return { ok: false, said: 'this Node gives no socket descriptor to hand to vhci_hcd', tool: true };
    const tried = new Set<number>();
    for (let attempt = 0; attempt < BUSY_TRIES; attempt += 1) {
      const port = pickPort(await readVhciPorts(sys), device.speed, tried);
      if (port === undefined) return { ok: false, said: `no free vhci_hcd port for a ${device.speed === USB_SPEED_SUPER ? 'SuperSpeed' : 'high-speed or slower'} device`, tool: false };
      tried.add(port.port);
      // Stopped or out of time while the port was picked: nothing is attached.
      if (signal.aborted) return { ok: false, said: stoppedSaid(signal), tool: false };
      const written = await writeSysfs(join(sys, VHCI_DIR, 'attach'), attachLine(port.port, sockfd, device));
      if (written === 'busy') continue;
      if (written !== undefined) return { ok: false, said: `vhci_hcd refused the attach on port ${port.port}: ${written}`, tool: false };
      // Stopped during the write: the caller has given the attach up, and no one would own the
      // port: it is detached again.
      if (signal.aborted) {
        const left = await detachPort(sys, port.port);
        return { ok: false, said: `${stoppedSaid(signal)}; port ${port.port} ${left === undefined ? 'detached again' : `could not be detached again: ${left}`}`, tool: false };
      }
      return { ok: true, port: port.port, device };
    }
    return { ok: false, said: `every free vhci_hcd port was taken by another attach first (${BUSY_TRIES} tries)`, tool: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, said: `${address}:${tcpPort}: ${code === undefined ? (error as Error).message : code}`, tool: false };
  } finally {
    // After a successful attach the kernel holds the socket: closing this descriptor leaves the
    // connection to it (no shutdown is sent). Otherwise this ends the connection, and usbipd
    // gives the device up.
    socket?.destroy();
  }
}

// The socket's file descriptor (libuv's handle keeps it; Node documents no other way).
function descriptorOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

// vhci_hcd's sysfs folder under /sys.
const VHCI_DIR = 'devices/platform/vhci_hcd.0';

function stoppedSaid(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : 'stopped';
}

// Detaches a port through vhci's detach file (as `usbip detach` does, without its record):
// undefined when done, else what the kernel said.
export async function detachPort(sys: string, port: number): Promise<string | undefined> {
  const said = await writeSysfs(join(sys, VHCI_DIR, 'detach'), String(port));
  return said === 'busy' ? 'EBUSY' : said;
}

// One write of a line to one of vhci's files: undefined when taken, 'busy' when the port was
// taken meanwhile, else what the kernel said.
async function writeSysfs(path: string, line: string): Promise<undefined | 'busy' | string> {
  let file: FileHandle | undefined;
  try {
    // Write-only, as sysfs has it (the file has no read side); never created.
    file = await open(path, constants.O_WRONLY);
    await file.write(line);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EBUSY' ? 'busy' : code ?? (error as Error).message;
  } finally {
    await file?.close();
  }
}
