// GRUB's menu as grub.cfg lays it out (menuentry and submenu blocks, each entry's `linux` line)
// and which entry a default names: a number, a title, an id, or a path of them joined by '>'
// ("1>2", "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-56-amd64").
// Pure parsing of text, tested on recorded grub.cfg files.
import { basename } from 'node:path';
import { KERNEL_DIR } from './installed.js';

// One menu entry or submenu: its title, its id (`--id` or `$menuentry_id_option`), the kernel its
// `linux` line boots (entries), its entries (submenus).
export interface GrubMenuEntry {
  readonly title: string;
  readonly id?: string | undefined;
  readonly kver?: string | undefined;
  readonly children?: readonly GrubMenuEntry[];
}

// What grub.cfg says: the default when no one-shot entry is set (`set default="…"` other than
// "${next_entry}"), whether it uses blscfg (Fedora's BLS entries), and the menu.
export interface GrubMenu {
  readonly default?: string | undefined;
  readonly bls: boolean;
  readonly entries: readonly GrubMenuEntry[];
}

// The kernel release a kernel image's path names (vmlinuz-6.1.0-56-amd64, /boot/vmlinuz-…).
export function kernelOfImage(path: string): string | undefined {
  const match = /^(?:vmlinuz|vmlinux|bzImage|Image)-(.+)$/.exec(basename(path));
  return match !== null && match[1] !== undefined && KERNEL_DIR.test(match[1]) ? match[1] : undefined;
}

// The words of a grub.cfg line, quotes removed ('a b' and "a b" are one word).
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((match) => match[1] ?? match[2] ?? match[3] ?? '');
}

// The entry's id: the word after --id or $menuentry_id_option.
function entryId(parts: readonly string[]): string | undefined {
  const at = parts.findIndex((word) => word === '--id' || word === '$menuentry_id_option' || word === '${menuentry_id_option}');
  return at < 0 ? undefined : parts[at + 1];
}

// Reads grub.cfg's menu. Braces are counted by line, as grub-mkconfig writes them.
export function parseGrubMenu(text: string): GrubMenu {
  // An open block: a menu entry or submenu, or any other (a function) when menu is false.
  interface Open { menu: boolean; title: string; id: string | undefined; kver: string | undefined; children: GrubMenuEntry[] | undefined }
  const top: GrubMenuEntry[] = [];
  const stack: Open[] = [];
  let fallback: string | undefined;
  let bls = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = words(line);
    const [command] = parts;
    if (line.endsWith('{')) {
      const menu = command === 'menuentry' || command === 'submenu';
      stack.push({ menu, title: parts[1] ?? '', id: entryId(parts), kver: undefined, children: command === 'submenu' ? [] : undefined });
    } else if (line === '}' && stack.length > 0) {
      const done = stack.pop()!;
      const parent = stack.findLast((open) => open.menu);
      if (done.menu) (parent?.children ?? top).push({ title: done.title, id: done.id, kver: done.kver, ...(done.children === undefined ? {} : { children: done.children }) });
    } else if ((command === 'linux' || command === 'linuxefi' || command === 'linux16') && stack.some((open) => open.menu)) {
      const open = stack.findLast((candidate) => candidate.menu)!;
      open.kver ??= parts[1] === undefined ? undefined : kernelOfImage(parts[1]);
    } else if (command === 'set' && !stack.some((open) => open.menu)) {
      const set = /^set\s+default=(?:"([^"]*)"|'([^']*)'|(\S*))/.exec(line);
      const value = set === null ? undefined : set[1] ?? set[2] ?? set[3] ?? '';
      if (value !== undefined && value !== '${next_entry}') fallback ??= value;
    } else if (command === 'blscfg') {
      bls = true;
    }
  }
  return { default: fallback, bls, entries: top };
}

// The kernel a menu default names, walking its '>' path by number, title or id; a title that
// says "with Linux K" names K even where the menu was not read.
export function kernelOfGrubDefault(entries: readonly GrubMenuEntry[], value: string): string | undefined {
  let level = entries;
  let found: GrubMenuEntry | undefined;
  for (const step of value.split('>')) {
    found = /^\d+$/.test(step) ? level[Number(step)] : level.find((entry) => entry.title === step || entry.id === step);
    if (found === undefined) break;
    level = found.children ?? [];
  }
  return found?.kver ?? kernelOfGrubTitle(value);
}

// The kernel a GRUB menu entry's title names ("…, with Linux 6.12.117+deb12-amd64"), if any.
export function kernelOfGrubTitle(entry: string): string | undefined {
  const match = /with Linux (\S+?)(?:\s|$)/.exec(entry);
  return match !== null && match[1] !== undefined && KERNEL_DIR.test(match[1]) ? match[1] : undefined;
}
