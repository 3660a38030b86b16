// Where a program is found on PATH, as a shell would find it.
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { environment } from '../environment.js';

// Finds an executable on PATH; undefined when it is not there.
export function findOnPath(name: string, pathVariable = environment()['PATH'] ?? ''): string | undefined {
  const candidates = isAbsolute(name) ? [name] : pathVariable.split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
