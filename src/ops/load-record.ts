// What kvc's loads of an instance loaded into the running kernel (its own modules, their
// dependencies, the image's further modules), newest first: what unload may take out, and nothing
// else. Kept in the run folder (gone at reboot, as the modules are), root's own file, mode 0600;
// a record someone else could have written is not believed.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostWrites, type Context } from './context.js';

// The record of one instance.
export interface LoadRecord {
  readonly kver: string;
  // Kernel names, in the order to unload them (newest first, as /proc/modules lists them).
  readonly modules: readonly string[];
}

// A module's name as the kernel spells it: what may be handed to rmmod from a record.
const MODULE_NAME = /^[A-Za-z0-9_]+$/;

// The record's path: <run dir>/<instance>/loaded.json.
export function loadRecordPath(ctx: Context, instance: string): string {
  return join(ctx.runDir, instance, 'loaded.json');
}

// The record for kver, or undefined (none, another kernel's, unreadable, not root's own 0600 file
// reached without a symbolic link, or naming something that is not a module name).
export function readLoadRecord(ctx: Context, instance: string, kver: string): LoadRecord | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(loadRecordPath(ctx, instance), constants.O_RDONLY | constants.O_NOFOLLOW);
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== (process.getuid?.() ?? 0) || (stat.mode & 0o077) !== 0) return undefined;
    const data: unknown = JSON.parse(readFileSync(fd, 'utf8'));
    if (typeof data !== 'object' || data === null) return undefined;
    const { kver: recorded, modules } = data as { kver?: unknown; modules?: unknown };
    if (recorded !== kver || !Array.isArray(modules) || !modules.every((name) => typeof name === 'string' && MODULE_NAME.test(name))) return undefined;
    return { kver, modules };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// Writes the record (an empty list too: "kvc loaded nothing"), mode 0600, replacing the old one
// at once; the temporary file is made anew, never followed through a link.
export async function writeLoadRecord(ctx: Context, instance: string, record: LoadRecord): Promise<void> {
  const host = hostWrites(ctx);
  await host.mkdirp(join(ctx.runDir, instance), 0o700);
  await host.writeFileAtomic(loadRecordPath(ctx, instance), `${JSON.stringify(record)}\n`, 0o600);
}

// Removes the record (an unload took out everything in it).
export async function clearLoadRecord(ctx: Context, instance: string): Promise<void> {
  await hostWrites(ctx).remove(loadRecordPath(ctx, instance));
}

// The new record after a load: what it added (newest first), then what was recorded and is still loaded. Pure.
export function mergeRecord(added: readonly string[], previous: readonly string[], loadedNow: readonly string[]): string[] {
  const live = new Set(loadedNow);
  return [...added, ...previous.filter((name) => live.has(name) && !added.includes(name))];
}
