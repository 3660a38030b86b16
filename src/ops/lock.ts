// One build/load/unload per instance at a time: a lock file under /run/kvc, released on every
// exit path; a lock left by a dead process is taken over.
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BusyError } from '../errors.js';
import type { Context } from './context.js';

// Who holds a lock: PID, its start time (to tell a reused PID) and what it is doing.
export interface LockOwner {
  readonly pid: number;
  readonly start: string;
  readonly what: string;
}

const POLL_MS = 250;

// The start time of a process (field 22 of /proc/<pid>/stat), undefined when it is gone.
export async function processStart(pid: number, procRoot = '/proc'): Promise<string | undefined> {
  try {
    const stat = await readFile(join(procRoot, String(pid), 'stat'), 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const [pid, start, ...what] = (await readFile(path, 'utf8')).trim().split(' ');
    return { pid: Number(pid), start: start ?? '', what: what.join(' ') };
  } catch {
    return undefined;
  }
}

async function ownerAlive(owner: LockOwner): Promise<boolean> {
  return Number.isInteger(owner.pid) && owner.pid > 0 && (await processStart(owner.pid)) === owner.start;
}

// Runs fn holding the instance's lock. Waits (saying so once) unless wait is false, then throws BusyError.
export async function withInstanceLock<T>(ctx: Context, instance: string, what: string, options: { wait: boolean }, fn: () => Promise<T>): Promise<T> {
  await mkdir(ctx.runDir, { recursive: true, mode: 0o755 });
  const path = join(ctx.runDir, `${instance}.lock`);
  const me = `${process.pid} ${(await processStart(process.pid)) ?? '0'} ${what}`;
  let announced = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${me}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    if (owner === undefined || !(await ownerAlive(owner))) {
      // A crashed kvc left it (or it was released just now): take it over.
      if (owner !== undefined) ctx.logger.warn(`taking over the lock of ${instance} left by process ${owner.pid}, which is gone`);
      await rm(path, { force: true });
      continue;
    }
    if (!options.wait) {
      throw new BusyError(`${instance} is busy: process ${owner.pid} is running \`${owner.what}\``, { hint: 'wait for it, or run again without --no-wait to wait' });
    }
    if (!announced) {
      ctx.logger.info(`waiting for process ${owner.pid} (\`${owner.what}\`) to finish with ${instance}`);
      announced = true;
    }
    if (ctx.signal?.aborted === true) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new BusyError('interrupted while waiting for the lock');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    const owner = await readOwner(path);
    if (owner?.pid === process.pid) await rm(path, { force: true });
  }
}
