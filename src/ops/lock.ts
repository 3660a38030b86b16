// One build/load/unload per instance at a time: flock(2) on <runDir>/<instance>.lock, a file that
// is never removed. The kernel releases the lock when its holder closes the file or dies, so a
// crashed kvc leaves nothing to take over; the holder's description in the file is for messages.
import { closeSync, constants, existsSync, fstatSync, fchmodSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BusyError, KvcError } from '../errors.js';
import { flockExclusive } from '../host/flock.js';
import type { Context } from './context.js';

// The lock file of an instance.
export function lockPath(ctx: Pick<Context, 'runDir'>, instance: string): string {
  return join(ctx.runDir, `${instance}.lock`);
}

// Opens (creating, mode 0600, never through a symbolic link) the lock file: only its owner may
// open it, since anyone who can open a file can flock it and so hold kvc up.
function openLockFile(path: string): number {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const info = fstatSync(fd);
  const euid = process.geteuid?.() ?? 0;
  if (!info.isFile() || info.uid !== euid) {
    closeSync(fd);
    throw new KvcError(`${path} is not a regular file owned by uid ${euid}; kvc will not lock through it`, { hint: `remove ${path}` });
  }
  if ((info.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  return fd;
}

// Who holds the lock, as its holder wrote it ("<pid> <what>"), for messages only.
function describeHolder(path: string): string {
  const text = (() => { try { return readFileSync(path, 'utf8').trim(); } catch { return ''; } })();
  const match = /^(\d+) (.+)$/.exec(text);
  return match === null ? 'another kvc' : `process ${match[1]} (\`${match[2]}\`)`;
}

// Runs fn holding the instance's lock. Waits (saying so once) unless wait is false, then throws
// BusyError. With --dry-run nothing is created or locked.
export async function withInstanceLock<T>(ctx: Context, instance: string, what: string, options: { wait: boolean }, fn: () => Promise<T>): Promise<T> {
  if (ctx.runtime?.dryRun === true) return fn();
  mkdirSync(ctx.runDir, { recursive: true, mode: 0o755 });
  const path = lockPath(ctx, instance);
  const fd = openLockFile(path);
  try {
    if (!(await flockExclusive(fd, { wait: false }))) {
      const holder = describeHolder(path);
      if (!options.wait) {
        throw new BusyError(`${instance} is busy: ${holder} holds it`, { hint: 'wait for it, or run again without --no-wait to wait' });
      }
      ctx.logger.info(`waiting for ${holder} to finish with ${instance}`);
      await flockExclusive(fd, { wait: true, signal: ctx.signal });
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid} ${what}\n`, 0);
    return await fn();
  } finally {
    // Closing the only descriptor of the locked file releases the lock.
    closeSync(fd);
  }
}

// The file the service of an instance holds for its whole life (instance names have no ".").
export function serviceLockPath(ctx: Pick<Context, 'runDir'>, instance: string): string {
  return join(ctx.runDir, `${instance}.service.lock`);
}

// How long a starting service waits for its lock: long enough for a `kvc unload` checking it.
const SERVICE_LOCK_WAIT_MS = 5_000;

// Holds the instance's service lock until the process ends (the kernel lets go of it then, also
// on SIGKILL): one `kvc service NAME` at a time. A second one throws BusyError naming the first.
export async function holdServiceLock(ctx: Context, instance: string, what: string): Promise<void> {
  if (ctx.runtime?.dryRun === true) return;
  mkdirSync(ctx.runDir, { recursive: true, mode: 0o755 });
  const path = serviceLockPath(ctx, instance);
  const fd = openLockFile(path);
  const patience = AbortSignal.timeout(SERVICE_LOCK_WAIT_MS);
  try {
    await flockExclusive(fd, { wait: true, signal: ctx.signal === undefined ? patience : AbortSignal.any([ctx.signal, patience]) });
  } catch (error) {
    closeSync(fd);
    if (!patience.aborted || ctx.signal?.aborted === true) throw error;
    throw new BusyError(`the service of ${instance} already runs: ${describeHolder(path)}`, {
      hint: `it is usually the unit kvc@${instance} (systemctl status kvc@${instance}); one service per instance`,
    });
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid} ${what}\n`, 0);
}

// Throws BusyError when the service of the instance runs: `what` (an unload, a reload) would
// change its modules under it. The lock is only tested, and let go at once.
export async function assertServiceNotRunning(ctx: Context, instance: string, what: string): Promise<void> {
  if (ctx.runtime?.dryRun === true || !existsSync(serviceLockPath(ctx, instance))) return;
  const path = serviceLockPath(ctx, instance);
  const fd = openLockFile(path);
  try {
    if (await flockExclusive(fd, { wait: false })) return;
  } finally {
    closeSync(fd);
  }
  throw new BusyError(`${what} would change ${instance}'s modules under its service: ${describeHolder(path)}`, {
    hint: `stop the service instead (systemctl stop kvc@${instance} unloads them), or restart it (systemctl restart kvc@${instance})`,
  });
}
