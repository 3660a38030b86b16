// The host-writes port: the files kvc's operations write under /run, /var/lib, /var/log and /etc
// (records, state, trust files, lock files) go through it. HOST_WRITES does them; a dry run's
// (dryRunHostWrites) prints "would write PATH" and does none. Chosen once, where the session is
// made (ops/session.ts), beside the runtime adapter.
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { KvcError } from '../errors.js';
import type { Effect, Would } from './effect.js';
import { replaceFile } from './replace-file.js';

// The writes kvc's operations make on the host.
export interface HostWrites {
  // Makes a folder and its parents (mode for those it makes).
  mkdirp(path: string, mode: number): Promise<Effect>;
  // Writes a file whole: to a new file of a random name beside PATH (created, never through a
  // link), then renamed over PATH; writers of one path at once never share a temporary file.
  writeFileAtomic(path: string, data: string, mode: number): Promise<Effect>;
  // Writes a file in place.
  writeFile(path: string, data: string, mode: number): Promise<Effect>;
  // Removes a file; missing is not an error.
  remove(path: string): Promise<Effect>;
  // Opens a lock file (making its folder): created mode 0600, never through a link, refused when
  // another user owns it (anyone who can open a file can flock it). A dry run opens none.
  openLock(path: string, folderMode: number): number | Would;
  // Another change to the host (`what` says which, for the dry run), made by `change`.
  apply<T>(what: string, change: () => Promise<T>): Promise<T | Would>;
}

// The host writes done: what kvc runs with.
export const HOST_WRITES: HostWrites = {
  async mkdirp(path, mode) {
    await mkdir(path, { recursive: true, mode });
    return 'done';
  },
  async writeFileAtomic(path, data, mode) {
    await replaceFile(dirname(path), basename(path), data, { fileMode: mode });
    return 'done';
  },
  async writeFile(path, data, mode) {
    await writeFile(path, data, { mode });
    return 'done';
  },
  async remove(path) {
    await rm(path, { force: true });
    return 'done';
  },
  openLock(path, folderMode) {
    mkdirSync(dirname(path), { recursive: true, mode: folderMode });
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    const info = fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    if (!info.isFile() || info.uid !== euid) {
      closeSync(fd);
      throw new KvcError(`${path} is not a regular file owned by uid ${euid}; kvc will not lock through it`, { hint: `remove ${path}` });
    }
    if ((info.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
    return fd;
  },
  apply(_what, change) {
    return change();
  },
};

// The host writes of a dry run: each prints what it would do (`print`, e.g. to stdout) and does
// nothing. A lock is neither taken nor waited for: a dry run changes nothing a lock protects.
export function dryRunHostWrites(print: (line: string) => void): HostWrites {
  const would = (text: string): Would => {
    print(text);
    return { would: text };
  };
  return {
    mkdirp: async (path) => would(`would make the folder ${path}`),
    writeFileAtomic: async (path) => would(`would write ${path}`),
    writeFile: async (path) => would(`would write ${path}`),
    remove: async (path) => would(`would remove ${path}`),
    openLock: (path) => ({ would: `would lock ${path}` }),
    apply: async (what) => would(`would ${what}`),
  };
}
