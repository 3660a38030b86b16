// A small tmpfs of kvc's own on a host folder: where a container writes into the host (a tools
// state folder), a file system with a size and an inode limit of its own, so that a subverted
// tool can fill that and nothing else (not the host's /run). Mounted with mount(8) (Node has no
// mount call); a folder that has one already keeps it.
import { readFile, realpath } from 'node:fs/promises';
import { execa } from 'execa';
import { findOnPath } from './find-on-path.js';

// What kvc names its tmpfs (the source field of /proc/self/mountinfo).
export const SMALL_TMPFS_SOURCE = 'kvc-tools-state';

// Its size in bytes and how many files and folders it may hold.
export interface SmallTmpfsLimits {
  readonly bytes: number;
  readonly inodes: number;
}

// The tmpfs options: the limits, root's alone, no devices, no set-uid, nothing executed from it.
export function smallTmpfsOptions(limits: SmallTmpfsLimits): string {
  if (!Number.isInteger(limits.bytes) || limits.bytes <= 0 || !Number.isInteger(limits.inodes) || limits.inodes <= 0) throw new RangeError(`not tmpfs limits: ${JSON.stringify(limits)}`);
  return `size=${limits.bytes},nr_inodes=${limits.inodes},mode=0700,nosuid,nodev,noexec`;
}

// Whether kvc's tmpfs is mounted on the folder now: a line of /proc/self/mountinfo whose mount
// point (field 5, with space, tab, newline and backslash written as octal escapes) is the folder's
// real path, and whose file system (after " - ") is tmpfs from SMALL_TMPFS_SOURCE. The last such
// line is the one on top.
export function tmpfsMountedAt(mountinfo: string, realPath: string): boolean {
  let mounted = false;
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined || unescapeMountField(before.split(' ')[4] ?? '') !== realPath) continue;
    const [type, source] = after.split(' ');
    mounted = type === 'tmpfs' && source === SMALL_TMPFS_SOURCE;
  }
  return mounted;
}

// A mountinfo field as the path it is (the kernel writes " ", "\t", "\n" and "\\" as \040 and so on).
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

// Mounts it unless one is there; throws with mount's last line when it fails.
export async function mountSmallTmpfs(path: string, limits: SmallTmpfsLimits): Promise<'mounted' | 'there'> {
  const real = await realpath(path);
  if (tmpfsMountedAt(await readFile('/proc/self/mountinfo', 'utf8'), real)) return 'there';
  const mount = findOnPath('mount') ?? '/bin/mount';
  const result = await execa(mount, ['-t', 'tmpfs', '-o', smallTmpfsOptions(limits), SMALL_TMPFS_SOURCE, real], { reject: false, timeout: 20_000, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`mount -t tmpfs on ${real} failed: ${String(result.stderr).trim().split('\n').pop() ?? `exit ${result.exitCode}`}`);
  return 'mounted';
}

// Unmounts kvc's tmpfs from the folder, if one is there (what else is mounted there stays).
export async function unmountSmallTmpfs(path: string): Promise<void> {
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined || !tmpfsMountedAt(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''), real)) return;
  const umount = findOnPath('umount') ?? '/bin/umount';
  const result = await execa(umount, [real], { reject: false, timeout: 20_000, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`umount ${real} failed: ${String(result.stderr).trim().split('\n').pop() ?? `exit ${result.exitCode}`}`);
}
