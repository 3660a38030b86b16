// A running service's state, published for `kvc status` as one JSON file in kvc's run folder:
// root's alone (0600: it names devices' serials and servers), written whole into a new file that
// no link can redirect, then renamed into place; believed only while the process that wrote it runs.
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { replaceFileSync } from './replace-file.js';
import type { Logger } from '../log/logger.js';

// Writes the state for others to read; a failure is logged, not thrown (status is a courtesy).
export function publishState(path: string, state: { readonly pid: number }, logger: Logger): void {
  try {
    replaceFileSync(dirname(path), basename(path), `${JSON.stringify(state)}\n`, { fileMode: 0o600, dirMode: 0o755 });
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

// The state, or undefined when there is none or its writer died without removing it. `check`
// reads the parsed JSON into its type (throwing, e.g. a ShapeError, where it does not fit); a
// file that is not JSON, has no process ID, or fails `check` is reported as damaged: nothing
// unchecked reaches the caller.
export function readPublishedState<T extends { readonly pid: number }>(path: string, check: (value: unknown) => T): T | undefined | DamagedState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { damaged: path, why: `not JSON (${(error as Error).message})` };
  }
  let state: T;
  try {
    state = check(value);
  } catch (error) {
    return { damaged: path, why: (error as Error).message };
  }
  if (!Number.isInteger(state.pid) || state.pid <= 0) return { damaged: path, why: 'pid: expected a process ID' };
  return processExists(state.pid) ? state : undefined;
}

// A state file that could not be believed: where, and why.
export interface DamagedState {
  readonly damaged: string;
  readonly why: string;
}

// Whether a read gave a damaged file rather than a state.
export function isDamaged(read: unknown): read is DamagedState {
  return typeof read === 'object' && read !== null && 'damaged' in read;
}
