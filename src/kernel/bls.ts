// Boot Loader Specification entries (/boot/loader/entries/*.conf: systemd-boot's, and GRUB's on
// Fedora through blscfg) and systemd-boot's loader.conf default. Pure parsing of text, tested on
// data; boot-default.ts reads the files.
import { KERNEL_DIR } from './installed.js';
import { kernelOfImage } from './grub-menu.js';

// One entry: its id (the file name without .conf and without a boot-counting "+3-0" suffix), its
// title, sort-key, and the kernel it boots (its `version`, else its `linux` path's).
export interface BlsEntry {
  readonly id: string;
  readonly title?: string | undefined;
  readonly sortKey?: string | undefined;
  readonly kver?: string | undefined;
}

// Reads one entry file.
export function parseBlsEntry(fileName: string, text: string): BlsEntry {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([a-z-]+)\s+(.*?)\s*$/.exec(line);
    if (match !== null && !fields.has(match[1]!)) fields.set(match[1]!, match[2]!);
  }
  const version = fields.get('version');
  const linux = fields.get('linux');
  const kver = version !== undefined && KERNEL_DIR.test(version) ? version : linux === undefined ? undefined : kernelOfImage(linux);
  return { id: fileName.replace(/\.conf$/, '').replace(/\+\d+(-\d+)?$/, ''), title: fields.get('title'), sortKey: fields.get('sort-key'), kver };
}

const byVersion = (a: string, b: string): number => b.localeCompare(a, undefined, { numeric: true });

// The entries in menu order: with a sort-key first (ascending), then by version, newest first
// (as systemd-boot and GRUB's blscfg list them).
export function blsMenuOrder(entries: readonly BlsEntry[]): BlsEntry[] {
  return [...entries].sort((a, b) =>
    (a.sortKey === undefined ? 1 : 0) - (b.sortKey === undefined ? 1 : 0)
    || (a.sortKey ?? '').localeCompare(b.sortKey ?? '')
    || byVersion(a.kver ?? '', b.kver ?? '')
    || byVersion(a.id, b.id));
}

// loader.conf's `default` pattern; undefined when unset or left to an EFI variable (@saved).
export function loaderConfDefault(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const match = /^\s*default\s+(\S+)/.exec(line);
    if (match !== null) return match[1]!.startsWith('@') ? undefined : match[1];
  }
  return undefined;
}

// Whether an entry id matches a loader.conf glob (*, ? and [...], as systemd-boot matches them).
export function globMatches(pattern: string, id: string): boolean {
  const source = [...pattern].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char === '[' || char === ']' ? char : char.replace(/[\\^$.|+(){}]/g, '\\$&'))).join('');
  try {
    return new RegExp(`^${source}$`).test(id) || new RegExp(`^${source}$`).test(`${id}.conf`);
  } catch {
    return pattern === id;
  }
}

// The kernel of the entry a default names (a loader.conf glob, an entry id, or GRUB's menu index
// over the BLS menu), else undefined.
export function kernelOfBlsDefault(entries: readonly BlsEntry[], value: string): string | undefined {
  const menu = blsMenuOrder(entries);
  if (/^\d+$/.test(value)) return menu[Number(value)]?.kver;
  return menu.find((entry) => entry.id === value || entry.title === value || globMatches(value, entry.id))?.kver;
}
