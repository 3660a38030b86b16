// A local build context's digest: what the image is built from (its Containerfile and every file
// beside it), so that an image built from another version of them counts as stale, as one built
// with other build args does. A URL context has none (the runtime fetches it).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

// Left out: hidden files and folders (.git, an editor's .swp), backups (name~, #name#, vim's 4913),
// and the other Containerfiles and Dockerfiles beside the one used (Containerfile.fedora beside
// Containerfile.debian): none of them is what this image is built from.
function leftOut(name: string, path: string, buildFile: string): boolean {
  if (name.startsWith('.') || name.endsWith('~') || (name.startsWith('#') && name.endsWith('#')) || name === '4913') return true;
  return /^(Containerfile|Dockerfile)([.-].*)?$/.test(name) && path !== buildFile;
}

// sha256 over each file's path (relative to the context), kind and content, in sorted order, the
// Containerfile's content (through a link too) and its path when it lies outside the context; the
// first 16 hex digits. undefined when the context cannot be read whole (then no image is called
// stale for it).
export function recipeDigest(dir: string, buildFile: string): string | undefined {
  try {
    return digest(dir, buildFile);
  } catch {
    return undefined;
  }
}

function digest(dir: string, buildFile: string): string {
  const hash = createHash('sha256');
  const walk = (folder: string): void => {
    const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (leftOut(entry.name, path, buildFile)) continue;
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
  hash.update(`F ${relative(dir, buildFile).startsWith('..') ? buildFile : relative(dir, buildFile)}\0`).update(readFileSync(buildFile));
  return hash.digest('hex').slice(0, 16);
}
