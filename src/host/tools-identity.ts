// Who the tools container's process is: recorded when kvc starts it and checked before a host
// command runs a tool in it, so a stale record (a PID reused by another process) is never used.
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

// What tools.pid holds: "<pid> <start time> <mount namespace inode> <kver> <runtime>" (the
// runtime the host command runs `exec` with; a record of an older kvc has none).
export interface ToolsIdentity {
  readonly pid: number;
  readonly start: string;
  readonly mountNs: number;
  readonly kver: string;
  readonly runtime?: 'podman' | 'docker';
}

// Formats the record (one line).
export function formatIdentity(identity: ToolsIdentity): string {
  return `${[identity.pid, identity.start, identity.mountNs, identity.kver, ...(identity.runtime === undefined ? [] : [identity.runtime])].join(' ')}\n`;
}

// Parses the record; undefined when it is not one.
export function parseIdentity(text: string): ToolsIdentity | undefined {
  const [pid, start, mountNs, kver, runtime, ...rest] = text.trim().split(/\s+/);
  if (rest.length > 0 || !/^\d+$/.test(pid ?? '') || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(mountNs ?? '') || kver === undefined) return undefined;
  if (runtime !== undefined && runtime !== 'podman' && runtime !== 'docker') return undefined;
  return { pid: Number(pid), start: start!, mountNs: Number(mountNs), kver, ...(runtime === undefined ? {} : { runtime }) };
}

// The start time in a /proc/<pid>/stat (field 22, counted after the command name, which may hold
// spaces and parentheses).
export function startTimeIn(stat: string): string | undefined {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

// The start time of a process (field 22 of /proc/<pid>/stat, after the command name), or undefined.
export async function processStartTime(pid: number, procRoot = '/proc'): Promise<string | undefined> {
  try {
    return startTimeIn(await readFile(join(procRoot, String(pid), 'stat'), 'utf8'));
  } catch {
    return undefined;
  }
}

// The identity of a running process now (root-owned processes only), or undefined.
export async function identityOf(pid: number, kver: string, procRoot = '/proc'): Promise<ToolsIdentity | undefined> {
  try {
    const [start, ns, proc] = await Promise.all([processStartTime(pid, procRoot), stat(join(procRoot, String(pid), 'ns', 'mnt')), stat(join(procRoot, String(pid)))]);
    if (start === undefined || proc.uid !== 0) return undefined;
    return { pid, start, mountNs: ns.ino, kver };
  } catch {
    return undefined;
  }
}

// Whether the record file may be believed: it and its folder belong to root and only root writes them.
export async function recordTrusted(path: string): Promise<boolean> {
  try {
    for (const info of await Promise.all([stat(path), stat(dirname(path))])) {
      if (info.uid !== 0 || (info.mode & 0o022) !== 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}
