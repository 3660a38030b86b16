// A sysfs device's node: its type and numbers (`dev`, the `subsystem` link), its name (`uevent`'s
// DEVNAME), and every node under a device's folder (a USB device's disk, partitions, tty, hidraw…).
// The parsers are pure; the readers only read sysfs. Also the check of a node's name in a /dev.
import { lstat, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { DeviceId, DeviceType } from '../host/device-cgroup-rules.js';

// A device node the kernel offers, found in sysfs.
export interface DeviceNode extends DeviceId {
  // The sysfs folder it was read from.
  readonly sysPath: string;
  // uevent's DEVNAME (the path under /dev udev would give it, e.g. "sda1", "bus/usb/001/002").
  readonly devname: string | undefined;
  // uevent's DEVTYPE ("disk", "partition", "usb_device"…), when it has one.
  readonly devtype: string | undefined;
}

// A `dev` file: "major:minor".
export function parseDev(text: string): { major: number; minor: number } {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (match === null) throw new Error(`not a sysfs dev file: ${JSON.stringify(text.slice(0, 40))}`);
  return { major: Number(match[1]), minor: Number(match[2]) };
}

// A `uevent` file: KEY=value lines.
export function parseUevent(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

// Block when the device's `subsystem` link points at the block class, character otherwise.
export function typeFromSubsystem(subsystemTarget: string): DeviceType {
  return basename(subsystemTarget) === 'block' ? 'b' : 'c';
}

// The node of one sysfs device folder, from what its files say.
export function deviceNodeOf(sysPath: string, devText: string, ueventText: string, subsystemTarget: string): DeviceNode {
  const { major, minor } = parseDev(devText);
  const uevent = parseUevent(ueventText);
  return { sysPath, type: typeFromSubsystem(subsystemTarget), major, minor, devname: uevent['DEVNAME'], devtype: uevent['DEVTYPE'] };
}

// Reads the node of a sysfs device folder (one with a `dev` file).
export async function readDeviceNode(sysPath: string): Promise<DeviceNode> {
  const [dev, uevent, subsystem] = await Promise.all([
    readFile(join(sysPath, 'dev'), 'utf8'),
    readFile(join(sysPath, 'uevent'), 'utf8').catch(() => ''),
    readlink(join(sysPath, 'subsystem')),
  ]);
  return deviceNodeOf(sysPath, dev, uevent, subsystem);
}

// Every node at and under a sysfs device folder (links such as /sys/bus/usb/devices/<busid> are
// resolved first), in path order. Only real folders are walked: sysfs's links (subsystem, driver,
// device, port…) point back up and across the tree.
export async function listDeviceNodes(sysPath: string): Promise<DeviceNode[]> {
  const found: DeviceNode[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.some((entry) => entry.name === 'dev' && entry.isFile())) found.push(await readDeviceNode(dir));
    for (const entry of entries.filter((item) => item.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) await walk(join(dir, entry.name));
  };
  const top = await realpath(sysPath);
  if (!(await lstat(top)).isDirectory()) throw new Error(`${sysPath} is not a sysfs device folder`);
  await walk(top);
  return found;
}

// The longest name a directory entry may have (NAME_MAX).
const NAME_MAX = 255;

// A node's name in a container's /dev: one path component of plain characters, so that only the
// /dev mount point is walked to reach it (no folder the container could swap for a link).
// Returns the name; throws a UsageError saying what is wrong.
export function checkNodeName(name: string): string {
  const problem = name === '' ? 'is empty'
    : name === '.' || name === '..' ? 'is a folder reference'
      : name.includes('/') ? 'has a "/" (only a name directly in /dev is allowed, no folders)'
        : name.length > NAME_MAX ? `is longer than ${NAME_MAX} characters`
          : !/^[A-Za-z0-9._+@:-]+$/.test(name) ? 'has a character other than letters, digits and . _ + @ : -'
            : undefined;
  if (problem !== undefined) {
    throw new UsageError(`the device node name ${JSON.stringify(name)} ${problem}`, { hint: 'give a single name such as "sdb" or "ttyUSB0", made of letters, digits and . _ + @ : -' });
  }
  return name;
}

// A name for a node in /dev from its DEVNAME: folders flattened with "-" ("bus/usb/001/002" →
// "bus-usb-001-002"), checked.
export function nodeNameFor(devname: string): string {
  return checkNodeName(devname.split('/').filter((part) => part !== '').join('-'));
}
