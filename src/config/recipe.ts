// A local build context's digest: what the image is built from (its Containerfile and every file
// beside it), so that an image built from another version of them counts as stale, as one built
// with other build args does. A URL context has none (the runtime fetches it).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

// sha256 over each file's path (relative to the context), kind and content, in sorted order, and
// the Containerfile's when it lies outside the context; the first 16 hex digits.
export function recipeDigest(dir: string, buildFile: string): string {
  const hash = createHash('sha256');
  const walk = (folder: string): void => {
    const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(folder, entry.name);
      const name = relative(dir, path);
      if (entry.isDirectory()) {
        hash.update(`d ${name}\0`);
        walk(path);
      } else if (entry.isSymbolicLink()) {
        hash.update(`l ${name}\0${readlinkSync(path)}\0`);
      } else if (entry.isFile()) {
        hash.update(`f ${name}\0`).update(readFileSync(path)).update('\0');
      }
    }
  };
  walk(dir);
  if (relative(dir, buildFile).startsWith('..')) hash.update(`F ${buildFile}\0`).update(readFileSync(buildFile));
  return hash.digest('hex').slice(0, 16);
}
