// What kvc's loads of an instance loaded into the running kernel (its own modules, their
// dependencies, the image's further modules), newest first: what unload may take out, and nothing
// else. Kept in the run folder (gone at reboot, as the modules are), readable by root only.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from './context.js';

// The record of one instance.
export interface LoadRecord {
  readonly kver: string;
  // Kernel names, in the order to unload them (newest first, as /proc/modules lists them).
  readonly modules: readonly string[];
}

// The record's path: <run dir>/<instance>/loaded.json.
export function loadRecordPath(ctx: Context, instance: string): string {
  return join(ctx.runDir, instance, 'loaded.json');
}

// The record for kver, or undefined (none, another kernel's, unreadable).
export function readLoadRecord(ctx: Context, instance: string, kver: string): LoadRecord | undefined {
  try {
    const data: unknown = JSON.parse(readFileSync(loadRecordPath(ctx, instance), 'utf8'));
    if (typeof data !== 'object' || data === null) return undefined;
    const { kver: recorded, modules } = data as { kver?: unknown; modules?: unknown };
    if (recorded !== kver || !Array.isArray(modules) || !modules.every((name) => typeof name === 'string')) return undefined;
    return { kver, modules };
  } catch {
    return undefined;
  }
}

// Writes the record (mode 0600), or removes it when it lists nothing.
export function writeLoadRecord(ctx: Context, instance: string, record: LoadRecord): void {
  const path = loadRecordPath(ctx, instance);
  if (record.modules.length === 0) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(join(ctx.runDir, instance), { recursive: true, mode: 0o700 });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

// The new record after a load: what it added (newest first), then what was recorded and is still loaded. Pure.
export function mergeRecord(added: readonly string[], previous: readonly string[], loadedNow: readonly string[]): string[] {
  const live = new Set(loadedNow);
  return [...added, ...previous.filter((name) => live.has(name) && !added.includes(name))];
}
