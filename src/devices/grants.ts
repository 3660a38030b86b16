// Gives one running container exactly the device nodes it is granted, and takes them back. podman
// cannot add a device to a running container, so kvc makes the node itself, from the host, in the
// container's own /dev (a tmpfs of its mount namespace), and the container's device cgroup rules
// (set by its owner at creation) let it open it. Without CAP_MKNOD (and CAP_SYS_ADMIN) the
// container cannot make any other node, so it reaches only what kvc put there.
//
// The container's process is pinned by an open /proc/<pid> folder: every read and the mknod go
// through /proc/self/fd/<n>, which fail once that process is gone, even if its PID is reused.
// The node is made by name directly in /dev (one component: only the /dev mount point is crossed,
// which the container cannot replace), with mknod(1) given no -m (its later chmod would follow a
// link the container put there), under a umask that leaves mode 0660.
import { open, lstat, readFile, stat, unlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import { execa } from 'execa';
import { ContainerRefusedError, DeviceNodeError } from '../errors.js';
import { allowRulesFor, formatDevice, formatRule, type DeviceId } from '../host/device-cgroup-rules.js';
import { checkNodeName } from '../kernel/device-nodes.js';
import type { RuntimePort } from '../runtime/port.js';
import { findOnPath } from '../host/find-on-path.js';
import type { ContainerAccess } from '../runtime/parse.js';
import { accessRefusal, boundingCapsOf, devMountType, inCgroup, processRefusal } from './grant-checks.js';
import { startTimeIn } from '../host/tools-identity.js';
import { environment } from '../environment.js';

// The mode and owner of every node kvc makes: read and write for the container's root (uid 0,
// gid 0: the container runs in the host's user namespace), nothing for its other users.
export const NODE_MODE = 0o660;
const NODE_UMASK = 0o117;

// One node kvc made in one container, and the process it was made for.
export interface DeviceGrant {
  readonly container: string;
  readonly containerId: string;
  readonly pid: number;
  // The process's start time and mount namespace when the node was made: which process it is.
  readonly start: string;
  readonly mountNs: number;
  readonly device: DeviceId;
  readonly name: string;
  // Where the container sees it.
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  // The container's device cgroup rules that cover the device (its owner's choice; typically the
  // whole major): what its processes may open of that device and its neighbours, given a node.
  readonly cgroupAllows: readonly string[];
}

// What became of a node on revoke.
export type RevokeResult = 'removed' | 'absent' | 'replaced' | 'container-gone';

// A process's /proc folder held open, read through /proc/self/fd/<n>.
interface PinnedProcess {
  readonly dir: string;
  readonly fd: number;
  close(): Promise<void>;
}

async function pin(pid: number): Promise<PinnedProcess | undefined> {
  try {
    const handle = await open(`/proc/${pid}`, constants.O_RDONLY | constants.O_DIRECTORY);
    return { dir: `/proc/self/fd/${handle.fd}`, fd: handle.fd, close: () => handle.close() };
  } catch {
    return undefined;
  }
}

// The start time and mount namespace of a pinned process; undefined once it is gone.
async function identityOfPinned(proc: PinnedProcess): Promise<{ start: string; mountNs: number } | undefined> {
  try {
    const [statText, ns] = await Promise.all([readFile(`${proc.dir}/stat`, 'utf8'), stat(`${proc.dir}/ns/mnt`)]);
    const start = startTimeIn(statText);
    return start === undefined ? undefined : { start, mountNs: ns.ino };
  } catch {
    return undefined;
  }
}

function majorOf(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}

function minorOf(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

// Whether what lstat saw is the device node: same type and numbers (a link is never one).
function isNodeOf(info: Awaited<ReturnType<typeof lstatBig>>, device: DeviceId): boolean {
  const typeMatches = device.type === 'b' ? info.isBlockDevice() : info.isCharacterDevice();
  return typeMatches && majorOf(info.rdev) === device.major && minorOf(info.rdev) === device.minor;
}

function lstatBig(path: string) {
  return lstat(path, { bigint: true });
}

function whatIs(info: Awaited<ReturnType<typeof lstatBig>>): string {
  if (info.isSymbolicLink()) return 'a symbolic link';
  if (info.isBlockDevice()) return `block device ${majorOf(info.rdev)}:${minorOf(info.rdev)}`;
  if (info.isCharacterDevice()) return `character device ${majorOf(info.rdev)}:${minorOf(info.rdev)}`;
  if (info.isDirectory()) return 'a folder';
  return 'a file';
}

// Gives the container `container` (name or ID, as podman takes it) the device as /dev/<name>.
// Refuses (ContainerRefusedError, nothing made) a container that is not running, privileged, has
// CAP_MKNOD or CAP_SYS_ADMIN, runs in a user namespace of its own, has no private /dev tmpfs, or
// whose device cgroup rules do not let it read and write the device; and a name already taken.
export async function grantDevice(runtime: RuntimePort, container: string, device: DeviceId, name: string): Promise<DeviceGrant> {
  checkNodeName(name);
  const access = await runtime.inspectContainerAccess(container);
  if (access === undefined) {
    throw new ContainerRefusedError('no-such-container', `there is no container ${container}`, { hint: `create it with \`podman create --cap-drop=mknod --device-cgroup-rule='${device.type} ${device.major}:* rw' …\` and start it` });
  }
  const refusal = accessRefusal(container, access, device);
  if (refusal !== undefined) throw refusal;
  return grantToProcess(container, access, device, name);
}

// The grant to the process `access.pid` once the runtime's answer has passed its checks: the
// process must be in the container's cgroup (else its PID was reused, or the container stopped)
// and pass the checks of /proc; then the node is made.
export async function grantToProcess(container: string, access: ContainerAccess, device: DeviceId, name: string): Promise<DeviceGrant> {
  checkNodeName(name);
  const gone = (): ContainerRefusedError => new ContainerRefusedError('gone', `${container} stopped while kvc was giving it ${formatDevice(device)} (process ${access.pid} is no longer its own)`, { hint: `start it again (podman start ${container}) and ask again` });
  const proc = await pin(access.pid);
  if (proc === undefined) throw gone();
  try {
    const read = (file: string): Promise<string> => readFile(`${proc.dir}/${file}`, 'utf8');
    const [cgroup, status, mountinfo, identity, userNs, ownUserNs] = await Promise.all([
      read('cgroup'), read('status'), read('mountinfo'), identityOfPinned(proc), stat(`${proc.dir}/ns/user`), stat('/proc/self/ns/user'),
    ]).catch(() => { throw gone(); });
    if (identity === undefined || !inCgroup(cgroup, access.cgroupPath)) throw gone();
    const refusal = processRefusal(container, { boundingCaps: boundingCapsOf(status), hostUserNamespace: userNs.ino === ownUserNs.ino && userNs.dev === ownUserNs.dev, devFsType: devMountType(mountinfo) }, device);
    if (refusal !== undefined) throw refusal;

    const target = `${proc.dir}/root/dev/${name}`;
    const taken = (what: string): ContainerRefusedError => new ContainerRefusedError('name-taken', `${container} already has /dev/${name} (${what}); kvc makes a node only where there is nothing`, { hint: `give another name, or remove /dev/${name} in ${container} first` });
    const existing = await lstatBig(target).catch(() => undefined);
    if (existing !== undefined) throw taken(whatIs(existing));

    const mknod = findOnPath('mknod');
    if (mknod === undefined) throw new DeviceNodeError('mknod is not on PATH', { hint: 'install coreutils' });
    // The child gets the pinned folder as its fd 3 (execa's types list only the fds 3-9 of the
    // parent; Node takes any); the umask is the child's from its spawn on.
    const previous = process.umask(NODE_UMASK);
    let child;
    try {
      child = execa(mknod, [`/proc/self/fd/3/root/dev/${name}`, device.type, String(device.major), String(device.minor)], {
        stdio: ['ignore', 'pipe', 'pipe', proc.fd as 3], reject: false, env: { ...environment(), LC_ALL: 'C' },
      });
    } finally {
      process.umask(previous);
    }
    const result = await child;
    if (result.exitCode !== 0) {
      const why = String(result.stderr ?? '').trim();
      if (/File exists/.test(why)) throw taken('something made meanwhile');
      if (await identityOfPinned(proc) === undefined) throw gone();
      throw new DeviceNodeError(`making /dev/${name} in ${container} failed: ${why}`, { hint: `check ${container}'s /dev (is it full or read-only?)` });
    }

    const made = await lstatBig(target).catch(() => undefined);
    if (made === undefined || !isNodeOf(made, device) || Number(made.mode & 0o7777n) !== NODE_MODE || made.uid !== 0n || made.gid !== 0n) {
      if (made !== undefined && isNodeOf(made, device)) await unlink(target).catch(() => undefined);
      throw new DeviceNodeError(`/dev/${name} in ${container} is not the node kvc made (${made === undefined ? 'gone' : `${whatIs(made)}, mode ${Number(made.mode & 0o7777n).toString(8)}`}); it was removed`, { hint: 'something in the container changed it at once; ask again' });
    }
    return {
      container, containerId: access.id, pid: access.pid, start: identity.start, mountNs: identity.mountNs,
      device: { type: device.type, major: device.major, minor: device.minor }, name, path: `/dev/${name}`,
      mode: NODE_MODE, uid: 0, gid: 0, cgroupAllows: allowRulesFor(access.deviceRules ?? [], device).map(formatRule),
    };
  } finally {
    await proc.close();
  }
}

// Removes the node a grant made, if it is still that node (same type and numbers; a link or
// anything else put there is left alone: 'replaced'). A container that is gone took its /dev with
// it: 'container-gone', not an error.
export async function revokeDevice(grant: DeviceGrant): Promise<RevokeResult> {
  const proc = await pin(grant.pid);
  if (proc === undefined) return 'container-gone';
  try {
    const identity = await identityOfPinned(proc);
    if (identity === undefined || identity.start !== grant.start || identity.mountNs !== grant.mountNs) return 'container-gone';
    const target = `${proc.dir}/root/dev/${grant.name}`;
    const info = await lstatBig(target).catch(() => undefined);
    if (info === undefined) return 'absent';
    if (!isNodeOf(info, grant.device)) return 'replaced';
    try {
      await unlink(target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      if (await identityOfPinned(proc) === undefined) return 'container-gone';
      throw new DeviceNodeError(`removing /dev/${grant.name} from ${grant.container} failed: ${(error as Error).message}`, { hint: `remove it in the container (podman exec ${grant.container} rm /dev/${grant.name})` });
    }
    return 'removed';
  } finally {
    await proc.close();
  }
}

// Whether the grant's process is still the one the node was made for.
export async function grantAlive(grant: DeviceGrant): Promise<boolean> {
  const proc = await pin(grant.pid);
  if (proc === undefined) return false;
  try {
    const identity = await identityOfPinned(proc);
    return identity !== undefined && identity.start === grant.start && identity.mountNs === grant.mountNs;
  } finally {
    await proc.close();
  }
}

// Resolves once the granted container's process is gone (exited, or its PID now another's),
// checking every `intervalMs`; rejects with the signal's reason when `signal` aborts first.
export async function waitForContainerGone(grant: DeviceGrant, options: { signal?: AbortSignal; intervalMs?: number } = {}): Promise<void> {
  const interval = options.intervalMs ?? 1000;
  const { signal } = options;
  while (await grantAlive(grant)) {
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, interval);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

// Exactly what the container is given, in one line.
export function describeGrant(grant: DeviceGrant): string {
  const kind = grant.device.type === 'b' ? 'block' : 'character';
  return `${grant.container} has ${grant.path}: ${kind} device ${grant.device.major}:${grant.device.minor}, mode ${grant.mode.toString(8).padStart(4, '0')}, owner ${grant.uid}:${grant.gid}, `
    + `in its own /dev only (kvc made no other node; the container cannot make one: no CAP_MKNOD); its device cgroup rules let it open ${grant.cgroupAllows.join(', ')}`;
}
