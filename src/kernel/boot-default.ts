// The kernel the boot loader will start next, as the host's own files say it: GRUB (its one-shot
// entry, grub.cfg's default or the saved entry, over its menu or the BLS entries), systemd-boot
// (the EFI variables it reads, loader.conf's default, the BLS entries), then the /boot/vmlinuz
// and /vmlinuz links Debian's kernel packages point at the newest kernel. Pure decisions on what
// was read, and one thin reader.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { blsMenuOrder, kernelOfBlsDefault, loaderConfDefault, parseBlsEntry, type BlsEntry } from './bls.js';
import { kernelOfGrubDefault, kernelOfGrubTitle, kernelOfImage, parseGrubMenu } from './grub-menu.js';

export { kernelOfImage };
// The kernel a GRUB menu entry's title names ("…, with Linux 6.12.117+deb12-amd64"), if any.
export const kernelOfGrubEntry = kernelOfGrubTitle;

// What the reader found, each missing where the host has none.
export interface BootFiles {
  // The text of /boot/grub/grubenv (or /boot/grub2/grubenv).
  readonly grubenv?: string | undefined;
  // The text of /boot/grub/grub.cfg (or /boot/grub2/grub.cfg).
  readonly grubCfg?: string | undefined;
  // The text of systemd-boot's loader.conf (/boot, /efi or /boot/efi).
  readonly loaderConf?: string | undefined;
  // The BLS entries beside it (or in /boot/loader/entries for GRUB's blscfg).
  readonly entries?: readonly BlsEntry[];
  // The boot loader's EFI variables: LoaderInfo (which loader booted), LoaderEntryOneShot and
  // LoaderEntryDefault (systemd-boot's one-shot and `bootctl set-default` entries).
  readonly efi?: { readonly loaderInfo?: string | undefined; readonly oneShot?: string | undefined; readonly entryDefault?: string | undefined };
  // Where /boot/vmlinuz and /vmlinuz point, in that order.
  readonly links: readonly (string | undefined)[];
}

// One grubenv variable (the file is NAME=VALUE lines padded with '#').
export function grubenvValue(text: string, name: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}=`)) return line.slice(name.length + 1);
  }
  return undefined;
}

// GRUB's choice: next_entry (grub-reboot), else grub.cfg's default ("${saved_entry}" reads
// grubenv's saved_entry, entry 0 when unset); a value resolved over its menu, else the BLS
// entries. Without grub.cfg the saved entry counts. Undefined when nothing names a kernel.
function grubChoice(files: BootFiles): string | undefined {
  const menu = files.grubCfg === undefined ? undefined : parseGrubMenu(files.grubCfg);
  const entries = files.entries ?? [];
  const resolve = (value: string | undefined): string | undefined =>
    value === undefined || value === '' ? undefined : kernelOfGrubDefault(menu?.bls === true ? [] : menu?.entries ?? [], value) ?? kernelOfBlsDefault(entries, value);
  const env = (name: string): string | undefined => (files.grubenv === undefined ? undefined : grubenvValue(files.grubenv, name));
  const oneShot = resolve(env('next_entry'));
  if (oneShot !== undefined) return oneShot;
  const fallback = menu === undefined ? '${saved_entry}' : menu.default ?? '0';
  return fallback === '${saved_entry}' ? resolve(env('saved_entry') || (menu === undefined ? undefined : '0')) : resolve(fallback);
}

// systemd-boot's choice: the one-shot entry, `bootctl set-default`'s, loader.conf's default
// pattern, else the first entry of its menu.
function systemdBootChoice(files: BootFiles): string | undefined {
  const entries = files.entries ?? [];
  for (const value of [files.efi?.oneShot, files.efi?.entryDefault, files.loaderConf === undefined ? undefined : loaderConfDefault(files.loaderConf)]) {
    const kver = value === undefined ? undefined : kernelOfBlsDefault(entries, value);
    if (kver !== undefined) return kver;
  }
  return blsMenuOrder(entries)[0]?.kver;
}

// The next boot's kernel by the boot files: the loader that booted (LoaderInfo) or whose files are
// there decides, then the links; undefined when none names a kernel (then the newest installed
// one boots, as GRUB's and systemd-boot's defaults order them).
export function bootDefaultKernel(files: BootFiles): string | undefined {
  const systemdBoot = files.efi?.loaderInfo?.startsWith('systemd-boot') === true;
  const grub = !systemdBoot && (files.grubCfg !== undefined || files.grubenv !== undefined);
  const chosen = grub ? grubChoice(files) : systemdBoot || files.loaderConf !== undefined ? systemdBootChoice(files) : undefined;
  if (chosen !== undefined) return chosen;
  for (const link of files.links) {
    const kver = link === undefined ? undefined : kernelOfImage(link);
    if (kver !== undefined) return kver;
  }
  return undefined;
}

// Where systemd-boot's loader.conf and entries may be, relative to the host root.
export const LOADER_DIRS = ['boot/loader', 'efi/loader', 'boot/efi/loader'];
// systemd-boot's vendor GUID, the suffix of its EFI variables.
const LOADER_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

// Reads the boot files under hostRoot; what cannot be read is left out.
export function readBootFiles(hostRoot: string): BootFiles {
  const text = (path: string): string | undefined => {
    try {
      return readFileSync(join(hostRoot, path), 'utf8').slice(0, 256 * 1024);
    } catch {
      return undefined;
    }
  };
  const link = (path: string): string | undefined => {
    try {
      return readlinkSync(join(hostRoot, path));
    } catch {
      return undefined;
    }
  };
  // An EFI variable: 4 bytes of attributes, then a NUL-terminated UTF-16LE string.
  const efiVar = (name: string): string | undefined => {
    try {
      return readFileSync(join(hostRoot, 'sys/firmware/efi/efivars', `${name}-${LOADER_GUID}`)).subarray(4).toString('utf16le').replace(/\0.*$/s, '');
    } catch {
      return undefined;
    }
  };
  const entries = (dir: string): BlsEntry[] => {
    try {
      return readdirSync(join(hostRoot, dir, 'entries')).filter((name) => name.endsWith('.conf')).slice(0, 256)
        .map((name) => parseBlsEntry(name, text(join(dir, 'entries', name)) ?? ''));
    } catch {
      return [];
    }
  };
  const loaderDir = LOADER_DIRS.find((dir) => text(join(dir, 'loader.conf')) !== undefined || entries(dir).length > 0) ?? LOADER_DIRS[0]!;
  return {
    grubenv: text('boot/grub/grubenv') ?? text('boot/grub2/grubenv'),
    grubCfg: text('boot/grub/grub.cfg') ?? text('boot/grub2/grub.cfg'),
    loaderConf: text(join(loaderDir, 'loader.conf')),
    entries: entries(loaderDir),
    efi: { loaderInfo: efiVar('LoaderInfo'), oneShot: efiVar('LoaderEntryOneShot'), entryDefault: efiVar('LoaderEntryDefault') },
    links: [link('boot/vmlinuz'), link('vmlinuz')],
  };
}
