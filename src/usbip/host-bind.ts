// Binding a device to usbip-host by the sysfs writes `usbip bind` makes (linux
// tools/usb/usbip/src/usbip_bind.c: unbind it from its driver, add its bus id to usbip-host's
// match_busid, write it to usbip-host's bind; on a failed bind, take it out of match_busid again),
// made by the service itself instead of `podman exec` of the tool: under emulation that exec is
// most of a replug's time on the exporting side (docs/benchmarks.md). The service already writes
// the device's usbip_sockfd itself to take a device back (exporter.ts); the tool stays for the
// host command and for the unbind.
import { readFile, readlink, realpath, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

// What a bind returned, as a run of the tool says it (ok, and on failure one line).
export interface BindResult {
  readonly ok: boolean;
  readonly said: string;
}

// A USB device's bus id as sysfs names it: "1-1", "2-1.4.3" (nothing that walks out of the folder).
const BUSID = /^[0-9]+-[0-9]+(\.[0-9]+)*$/;

// The writes a bind makes, in their order: [sysfs file, text].
export type SysfsWrite = (path: string, text: string) => Promise<void>;

const realWrite: SysfsWrite = (path, text) => writeFile(path, text);

// Binds the device `busid` under `sys` to usbip-host; a hub and a device imported over USB/IP (on
// vhci_hcd: a bind loop) are refused, as the tool refuses them; a device bound to usbip-host
// already is left as it is.
export async function bindToUsbipHost(sys: string, busid: string, write: SysfsWrite = realWrite): Promise<BindResult> {
  if (!BUSID.test(busid)) return { ok: false, said: `${JSON.stringify(busid)} is not a USB bus id` };
  const device = join(sys, 'bus/usb/devices', busid);
  const deviceClass = await readFile(join(device, 'bDeviceClass'), 'utf8').then((text) => text.trim(), () => undefined);
  if (deviceClass === undefined) return { ok: false, said: `device with the specified bus id does not exist: ${busid}` };
  if (deviceClass === '09') return { ok: false, said: `${busid} is a hub: not bound` };
  const path = await realpath(device).catch(() => device);
  if (path.includes('/vhci_hcd')) return { ok: false, said: `bind loop detected: device ${busid} is attached to vhci_hcd` };
  const driver = await readlink(join(device, 'driver')).then((target) => basename(target), () => undefined);
  if (driver === 'usbip-host') return { ok: true, said: '' };
  const host = join(sys, 'bus/usb/drivers/usbip-host');
  const step = async (what: string, path: string, text: string): Promise<string | undefined> => write(path, text).then(() => undefined, (error: unknown) => `${what}: ${(error as Error).message}`);
  if (driver !== undefined) {
    const failed = await step(`error unbinding device ${busid} from driver ${driver}`, join(sys, 'bus/usb/drivers', driver, 'unbind'), busid);
    if (failed !== undefined) return { ok: false, said: failed };
  }
  const unmatched = await step(`unable to bind device on ${busid} (match_busid)`, join(host, 'match_busid'), `add ${busid}`);
  if (unmatched !== undefined) return { ok: false, said: unmatched };
  const unbound = await step(`unable to bind device on ${busid}`, join(host, 'bind'), busid);
  if (unbound === undefined) return { ok: true, said: '' };
  await write(join(host, 'match_busid'), `del ${busid}`).catch(() => undefined);
  return { ok: false, said: unbound };
}
