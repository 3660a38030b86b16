// Replaces a file in a folder by a new one with the given content: written to a file of a random
// name created new there (never opened if it is there already, never through a link), then
// renamed over the name (a link at the name is replaced, not followed). A failure leaves no
// temporary file. Two writers of one name never share a temporary file; the last rename wins.
import { constants } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

// Writes `content` as dir/name (see above); the folder is made when missing if `dirMode` is given,
// else it must be there.
export async function replaceFile(dir: string, name: string, content: string, options: { fileMode: number; dirMode?: number }): Promise<void> {
  if (name === '' || name.includes('/') || name === '.' || name === '..') throw new RangeError(`not a file name: ${JSON.stringify(name)}`);
  if (options.dirMode !== undefined) await mkdir(dir, { recursive: true, mode: options.dirMode });
  const temporary = join(dir, `.${name}-${randomBytes(6).toString('hex')}`);
  const file = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, options.fileMode);
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
