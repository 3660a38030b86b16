// Whether a container may be given a device node: what its runtime says of it and what its process
// shows in /proc. Pure: each check returns the refusal (with the exact podman flags to create the
// container with) or undefined.
import { ContainerRefusedError } from '../errors.js';
import { formatDevice, rulesAllow, type DeviceId } from '../host/device-cgroup-rules.js';
import type { ContainerAccess } from '../runtime/parse.js';

// Capabilities that would let a container get device nodes kvc did not give it: mknod(2) itself,
// and mount(2) (a devtmpfs holds every node of the host).
export const CAP_MKNOD = 'CAP_MKNOD';
// (mount(2): see CAP_MKNOD.)
export const CAP_SYS_ADMIN = 'CAP_SYS_ADMIN';
const CAP_BITS: Readonly<Record<string, number>> = { [CAP_MKNOD]: 27, [CAP_SYS_ADMIN]: 21 };

// The rule that lets a container open the device: its type and major, any minor (a USB device's
// minor changes with each attach).
export function cgroupRuleFor(device: DeviceId): string {
  return `${device.type} ${device.major}:* rw`;
}

// The podman flags a container needs to be given the device, as they are typed.
export function podmanFlagsFor(device: DeviceId): string {
  return `--cap-drop=mknod --device-cgroup-rule='${cgroupRuleFor(device)}'`;
}

function createHint(device: DeviceId, container: string, change: string): string {
  return `${change}: create ${container} with \`podman create ${podmanFlagsFor(device)} …\` (not --privileged, no --cap-add=mknod or sys_admin, no --userns or --uidmap), then start it and ask again`;
}

// The container as its runtime describes it.
export function accessRefusal(container: string, access: ContainerAccess, device: DeviceId): ContainerRefusedError | undefined {
  const refuse = (reason: ConstructorParameters<typeof ContainerRefusedError>[0], message: string, change: string): ContainerRefusedError =>
    new ContainerRefusedError(reason, `${container} cannot be given ${formatDevice(device)}: ${message}`, { hint: createHint(device, container, change) });
  if (!access.running || access.pid <= 0) return new ContainerRefusedError('not-running', `${container} cannot be given ${formatDevice(device)}: it is not running`, { hint: `start it (podman start ${container}); it must have been created with ${podmanFlagsFor(device)}` });
  if (access.privileged) return refuse('privileged', 'it is privileged (it sees every device of the host)', 'drop --privileged');
  for (const cap of [CAP_MKNOD, CAP_SYS_ADMIN]) {
    const reason = cap === CAP_MKNOD ? 'can-mknod' : 'can-mount';
    const held = access.effectiveCaps !== undefined && access.boundingCaps !== undefined
      ? access.effectiveCaps.includes(cap) || access.boundingCaps.includes(cap)
      // A runtime that does not list the capabilities (docker): podman's and docker's defaults
      // hold CAP_MKNOD, not CAP_SYS_ADMIN; what is added or dropped changes that.
      : access.capAdd.includes(cap) || access.capAdd.includes('ALL') || (cap === CAP_MKNOD && !access.capDrop.includes(cap) && !access.capDrop.includes('ALL'));
    if (held) return refuse(reason, `it has ${cap} (it could make device nodes of its own)`, cap === CAP_MKNOD ? 'drop it with --cap-drop=mknod' : 'do not add CAP_SYS_ADMIN');
  }
  if (access.userNamespace) return refuse('user-namespace', 'it runs in a user namespace of its own (a node in its /dev could not be opened there)', 'leave out --userns and --uidmap');
  if (!rulesAllow(access.deviceRules ?? [], device, 'rw')) return refuse('cgroup-rule', `its device cgroup rules do not let it read and write ${formatDevice(device)}`, `add --device-cgroup-rule='${cgroupRuleFor(device)}'`);
  return undefined;
}

// What the container's process shows in /proc.
export interface ProcessFacts {
  // CapBnd of /proc/<pid>/status.
  readonly boundingCaps: bigint;
  // Whether it is in the host's user namespace (kvc's own).
  readonly hostUserNamespace: boolean;
  // The file system type of the mount at its /dev ('' when it has none of its own).
  readonly devFsType: string;
}

// The process as /proc shows it: the truth behind what the runtime said.
export function processRefusal(container: string, facts: ProcessFacts, device: DeviceId): ContainerRefusedError | undefined {
  const refuse = (reason: ConstructorParameters<typeof ContainerRefusedError>[0], message: string, change: string): ContainerRefusedError =>
    new ContainerRefusedError(reason, `${container} cannot be given ${formatDevice(device)}: ${message}`, { hint: createHint(device, container, change) });
  for (const [cap, bit] of Object.entries(CAP_BITS)) {
    if ((facts.boundingCaps & (1n << BigInt(bit))) !== 0n) return refuse(cap === CAP_MKNOD ? 'can-mknod' : 'can-mount', `its process may hold ${cap}`, cap === CAP_MKNOD ? 'drop it with --cap-drop=mknod' : 'do not add CAP_SYS_ADMIN');
  }
  if (!facts.hostUserNamespace) return refuse('user-namespace', 'its process runs in a user namespace of its own', 'leave out --userns and --uidmap');
  if (facts.devFsType !== 'tmpfs') return refuse('dev-not-tmpfs', `its /dev is ${facts.devFsType === '' ? 'not a mount of its own' : `a ${facts.devFsType} mount`}, not the private tmpfs podman gives it`, 'do not mount anything on /dev');
  return undefined;
}

// The mount at /dev in a /proc/<pid>/mountinfo: its file system type ('' when there is none; the
// last one when several are stacked, as the process sees the top one).
export function devMountType(mountinfo: string): string {
  let type = '';
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (fields[4] === '/dev' && separator > 0) type = fields[separator + 1] ?? '';
  }
  return type;
}

// CapBnd of a /proc/<pid>/status.
export function boundingCapsOf(status: string): bigint {
  const match = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
  if (match === null) throw new Error('no CapBnd line in the process status');
  return BigInt(`0x${match[1]}`);
}

// Whether a /proc/<pid>/cgroup puts the process in the container's cgroup (`cgroupPath`, as the
// runtime gave it, or one below it): the cgroup v2 line, or, on a host with v1 only, every
// controller's line.
export function inCgroup(cgroupFile: string, cgroupPath: string): boolean {
  if (!cgroupPath.startsWith('/') || cgroupPath === '/') return false;
  const within = (path: string): boolean => path === cgroupPath || path.startsWith(`${cgroupPath}/`);
  const lines = cgroupFile.split('\n').filter((line) => line !== '');
  const unified = lines.find((line) => line.startsWith('0::'));
  if (unified !== undefined) return within(unified.slice(3));
  const paths = lines.map((line) => line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1));
  return paths.length > 0 && paths.every(within);
}
