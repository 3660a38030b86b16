// A small tmpfs of kvc's own on a host folder: where a container writes into the host (a tools
// state folder), a file system with a size and an inode limit of its own, so that a subverted
// tool can fill that and nothing else (not the host's /run). Mounted with mount(8) (Node has no
// mount call); a folder that has one already keeps it.
import { readFile } from 'node:fs/promises';
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

// Whether a tmpfs is mounted on the folder now (a line of /proc/self/mountinfo: its mount point is
// field 5, the file system type follows the " - ").
export function tmpfsMountedAt(mountinfo: string, path: string): boolean {
  return mountinfo.split('\n').some((line) => {
    const [before, after] = line.split(' - ');
    return before?.split(' ')[4] === path && after?.split(' ')[0] === 'tmpfs';
  });
}

// Mounts it unless one is there; throws with mount's last line when it fails.
export async function mountSmallTmpfs(path: string, limits: SmallTmpfsLimits): Promise<'mounted' | 'there'> {
  if (tmpfsMountedAt(await readFile('/proc/self/mountinfo', 'utf8'), path)) return 'there';
  const mount = findOnPath('mount') ?? '/bin/mount';
  const result = await execa(mount, ['-t', 'tmpfs', '-o', smallTmpfsOptions(limits), SMALL_TMPFS_SOURCE, path], { reject: false, timeout: 20_000, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`mount -t tmpfs on ${path} failed: ${String(result.stderr).trim().split('\n').pop() ?? `exit ${result.exitCode}`}`);
  return 'mounted';
}

// Unmounts kvc's tmpfs from the folder, if one is there.
export async function unmountSmallTmpfs(path: string): Promise<void> {
  if (!tmpfsMountedAt(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''), path)) return;
  const umount = findOnPath('umount') ?? '/bin/umount';
  const result = await execa(umount, [path], { reject: false, timeout: 20_000, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`umount ${path} failed: ${String(result.stderr).trim().split('\n').pop() ?? `exit ${result.exitCode}`}`);
}
