// One build/load/unload per instance at a time: flock(2) on <runDir>/<instance>.lock, a file that
// is never removed. The kernel releases the lock when its holder closes the file or dies, so a
// crashed kvc leaves nothing to take over; the holder's description in the file is for messages.
import { closeSync, existsSync, ftruncateSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BusyError } from '../errors.js';
import { isWould } from '../host/effect.js';
import { flockExclusive, flockShared } from '../host/flock.js';
import { hostWrites, type Context } from './context.js';

// The lock file of an instance.
export function lockPath(ctx: Pick<Context, 'runDir'>, instance: string): string {
  return join(ctx.runDir, `${instance}.lock`);
}

// Who holds the lock, as its holder wrote it ("<pid> <what>"), for messages only.
function describeHolder(path: string): string {
  const text = (() => { try { return readFileSync(path, 'utf8').trim(); } catch { return ''; } })();
  const match = /^(\d+) (.+)$/.exec(text);
  return match === null ? 'another kvc' : `process ${match[1]} (\`${match[2]}\`)`;
}

// Runs fn holding the instance's lock. Waits (saying so once) unless wait is false, then throws
// BusyError. A dry run's host writes open no lock file: nothing is created or locked.
export async function withInstanceLock<T>(ctx: Context, instance: string, what: string, options: { wait: boolean }, fn: () => Promise<T>): Promise<T> {
  const path = lockPath(ctx, instance);
  const fd = hostWrites(ctx).openLock(path, 0o755);
  if (isWould(fd)) return fn();
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
  const path = serviceLockPath(ctx, instance);
  const fd = hostWrites(ctx).openLock(path, 0o755);
  if (isWould(fd)) return;
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
  const path = serviceLockPath(ctx, instance);
  if (!existsSync(path)) return;
  const fd = hostWrites(ctx).openLock(path, 0o755);
  if (isWould(fd)) return;
  try {
    if (await flockExclusive(fd, { wait: false })) return;
  } finally {
    closeSync(fd);
  }
  throw new BusyError(`${what} would change ${instance}'s modules under its service: ${describeHolder(path)}`, {
    hint: `stop the service instead (systemctl stop kvc@${instance} unloads them), or restart it (systemctl restart kvc@${instance})`,
  });
}

// The file every kvc build holds shared while its runtime builds (of any instance, whatever its
// run folder: the runtime's storage is the machine's).
export const BUILDS_LOCK = '/run/lock/kvc-builds.lock';

// Runs a build holding the builds lock shared; `aloneNow` (for a cancelled build that would remove
// the working containers that appeared while it ran) tries to take it exclusively, without
// waiting: true only when no other kvc build runs, whose containers those could be. A build that
// starts meanwhile waits for the removal, saying so. A dry run locks nothing, and is never alone.
export async function withBuildsLock<T>(ctx: Context, fn: (aloneNow: () => Promise<boolean>) => Promise<T>): Promise<T> {
  const fd = hostWrites(ctx).openLock(BUILDS_LOCK, 0o755);
  if (isWould(fd)) return fn(async () => false);
  try {
    if (!(await flockShared(fd, { wait: false }))) {
      ctx.logger.info('waiting for a cancelled build to remove what it left');
      await flockShared(fd, { wait: true, signal: ctx.signal });
    }
    return await fn(() => flockExclusive(fd, { wait: false }).catch(() => false));
  } finally {
    closeSync(fd);
  }
}
