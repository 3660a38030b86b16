// A running service's state, published for `kvc status` as one JSON file in kvc's run folder:
// written whole, then renamed into place; believed only while the process that wrote it runs.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.js';

export function publishState(path: string, state: { readonly pid: number }, logger: Logger): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(`${path}.new`, `${JSON.stringify(state)}\n`, { mode: 0o644 });
    renameSync(`${path}.new`, path);
  } catch (error) {
    logger.verbose(`could not write ${path}: ${String(error)}`);
  }
}

// The state, or undefined when there is none or its writer died without removing it.
export function readPublishedState<T extends { readonly pid: number }>(path: string): T | undefined {
  let state: T;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
  try {
    process.kill(state.pid, 0);
  } catch {
    return undefined;
  }
  return state;
}
