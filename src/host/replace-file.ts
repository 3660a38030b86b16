// Replaces a file in a folder by a new one with the given content: written to a file of a random
// name created new there (never opened if it is there already, never through a link), then
// renamed over the name (a link at the name is replaced, not followed). A failure leaves no
// temporary file. Two writers of one name never share a temporary file; the last rename wins.
// The temporary's name is hidden (a leading dot), so a reader listing the folder can skip it.
import { closeSync, constants, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

// How the file (and its folder, when made) are created.
export interface ReplaceOptions {
  readonly fileMode: number;
  // The mode of the folder when it is made; without it, the folder must be there.
  readonly dirMode?: number;
}

// Created new, write-only, never through a link.
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

// The temporary's path beside dir/name; throws for a name that is not one file's.
function temporaryFor(dir: string, name: string): string {
  if (name === '' || name.includes('/') || name === '.' || name === '..') throw new RangeError(`not a file name: ${JSON.stringify(name)}`);
  return join(dir, `.${name}-${randomBytes(6).toString('hex')}`);
}

// Writes `content` as dir/name (see above).
export async function replaceFile(dir: string, name: string, content: string, options: ReplaceOptions): Promise<void> {
  const temporary = temporaryFor(dir, name);
  if (options.dirMode !== undefined) await mkdir(dir, { recursive: true, mode: options.dirMode });
  const file = await open(temporary, CREATE_NEW, options.fileMode);
  try {
    try {
      // Whole: writeFile writes until all is written (one write(2) may take only part).
      await file.writeFile(content);
    } finally {
      await file.close();
    }
    await rename(temporary, join(dir, name));
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

// replaceFile, synchronous: for a writer that cannot wait (the service's published state).
export function replaceFileSync(dir: string, name: string, content: string, options: ReplaceOptions): void {
  const temporary = temporaryFor(dir, name);
  if (options.dirMode !== undefined) mkdirSync(dir, { recursive: true, mode: options.dirMode });
  const fd = openSync(temporary, CREATE_NEW, options.fileMode);
  try {
    try {
      writeFileSync(fd, content);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, join(dir, name));
  } catch (error) {
    try { unlinkSync(temporary); } catch { /* not there */ }
    throw error;
  }
}
