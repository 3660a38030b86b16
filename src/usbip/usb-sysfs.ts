// What the kernel says of USB devices and vhci ports, read from sysfs: local devices (bus id,
// VID:PID, serial, driver, usbip-host's state) and vhci_hcd's ports. Parsers are pure.
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BUSID } from './devices-file.js';

// A local USB device as sysfs describes it (bus id, VID:PID, serial, its driver).
export interface UsbDevice {
  readonly busid: string;
  readonly vendor: string;
  readonly product: string;
  readonly serial: string | undefined;
  // Its product string, for people ("QEMU USB HARDDRIVE").
  readonly name: string | undefined;
  // The driver bound to the device (usbip-host when exported; usb for an ordinary device).
  readonly driver: string | undefined;
  // usbip-host's usbip_status: 1 available, 2 used (imported), 3 error; undefined when not bound.
  readonly usbipStatus: number | undefined;
}

// vhci_hcd's status lines: one per port of every controller (hs and ss hubs).
export interface VhciPort {
  readonly hub: 'hs' | 'ss';
  readonly port: number;
  // 4 free (VDEV_ST_NULL), 5 not assigned yet, 6 used, 7 error.
  readonly state: number;
  readonly speed: number;
  readonly devid: number;
  // The bus id of the device on the client's side of this port (0-0 when free).
  readonly localBusid: string;
}

// vhci_hcd's port states (drivers/usb/usbip/usbip_common.h): free…
export const VDEV_ST_NULL = 4;
// …just attached, the device not assigned yet (vhci shows devid 0)…
export const VDEV_ST_NOTASSIGNED = 5;
// …and in use.
export const VDEV_ST_USED = 6;

// The folders of the USB root hubs (usb1, usb2, …) as paths under /sys (/sys/devices/pci0000:00/
// 0000:00:04.0/usb1), sorted: every USB device is below one, with the attributes usbipd writes.
export async function usbRootHubDirs(sys: string): Promise<string[]> {
  const dir = join(sys, 'bus/usb/devices');
  const hubs = (await readdir(dir).catch(() => [] as string[])).filter((entry) => /^usb[0-9]+$/.test(entry));
  const root = await realpath(sys).catch(() => sys);
  const dirs = await Promise.all(hubs.map(async (hub) => {
    const real = await realpath(join(dir, hub)).catch(() => undefined);
    const rel = real === undefined ? '' : relative(root, real);
    return rel === '' || rel.startsWith('..') ? [] : [`/sys/${rel}`];
  }));
  return dirs.flat().sort();
}

// Local USB devices (not root hubs, not interfaces), by bus id.
export async function listUsbDevices(sys: string): Promise<UsbDevice[]> {
  const dir = join(sys, 'bus/usb/devices');
  const entries = await readdir(dir).catch(() => [] as string[]);
  const devices: UsbDevice[] = [];
  for (const busid of entries.filter((entry) => BUSID.test(entry)).sort()) {
    const path = join(dir, busid);
    const read = (file: string): Promise<string | undefined> => readFile(join(path, file), 'utf8').then((text) => text.trim(), () => undefined);
    const [vendor, product, serial, name, driverLink, status] = await Promise.all([
      read('idVendor'), read('idProduct'), read('serial'), read('product'),
      readlink(join(path, 'driver')).catch(() => undefined), read('usbip_status'),
    ]);
    if (vendor === undefined || product === undefined) continue;
    const driver = driverLink?.slice(driverLink.lastIndexOf('/') + 1);
    devices.push({ busid, vendor: vendor.toLowerCase(), product: product.toLowerCase(), serial, name, driver, usbipStatus: status === undefined ? undefined : Number(status) });
  }
  return devices;
}

// Parses one vhci status file:
//   hub port sta spd dev      sockfd local_busid
//   hs  0000 006 002 00010002 000003 3-1
export function parseVhciStatus(text: string): VhciPort[] {
  const ports: VhciPort[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7 || (fields[0] !== 'hs' && fields[0] !== 'ss')) continue;
    const [hub, port, state, speed, devid, , localBusid] = fields;
    ports.push({ hub: hub as 'hs' | 'ss', port: Number.parseInt(port!, 10), state: Number.parseInt(state!, 10), speed: Number.parseInt(speed!, 10), devid: Number.parseInt(devid!, 16), localBusid: localBusid! });
  }
  return ports;
}

// Every vhci port of every controller: vhci_hcd.0 holds status (controller 0) and status.N.
export async function readVhciPorts(sys: string): Promise<VhciPort[]> {
  const dir = join(sys, 'devices/platform/vhci_hcd.0');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((file) => /^status(\.[0-9]+)?$/.test(file));
  const texts = await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8').catch(() => '')));
  return texts.flatMap(parseVhciStatus).sort((a, b) => a.port - b.port);
}

// vhci's controllers (vhci_hcd.N) and its ports in all (nports).
export async function readVhciSize(sys: string): Promise<{ controllers: number; ports: number }> {
  const platform = await readdir(join(sys, 'devices/platform')).catch(() => [] as string[]);
  const controllers = platform.filter((entry) => /^vhci_hcd\.[0-9]+$/.test(entry)).length;
  const nports = await readFile(join(sys, 'devices/platform/vhci_hcd.0/nports'), 'utf8').then((text) => Number(text.trim()), () => 0);
  return { controllers, ports: nports };
}

// What `usbip attach` recorded of a port (/run/vhci_hcd/port<N>: "host port busid"; tool-records.ts
// reads it from the host folder bound there).
export function parsePortRecord(text: string): { host: string; port: string; busid: string } | undefined {
  const [host, port, busid] = text.trim().split(/\s+/);
  if (host === undefined || port === undefined || busid === undefined) return undefined;
  return { host, port, busid };
}
