// A running service's state, published for `kvc status` as one JSON file in kvc's run folder:
// root's alone (0600: it names devices' serials and servers), written whole into a new file that
// no link can redirect, then renamed into place; believed only while the process that wrote it runs.
import { closeSync, constants, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.js';

// Writes the state for others to read; a failure is logged, not thrown (status is a courtesy).
export function publishState(path: string, state: { readonly pid: number }, logger: Logger): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const next = `${path}.new`;
    rmSync(next, { force: true });
    const fd = openSync(next, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(next, path);
  } catch (error) {
    logger.verbose(`could not write ${path}: ${String(error)}`);
  }
}

// Whether process `pid` exists: kill(pid, 0) succeeds, or fails with EPERM (it runs, as another user).
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The state, or undefined when there is none, it is not a JSON object with a process ID, or its
// writer died without removing it.
export function readPublishedState<T extends { readonly pid: number }>(path: string): T | undefined {
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof state !== 'object' || state === null || !Number.isInteger((state as { pid?: unknown }).pid) || (state as { pid: number }).pid <= 0) return undefined;
  return processExists((state as { pid: number }).pid) ? (state as T) : undefined;
}
