// The kernel the boot loader will start next, as the host's own files say it: GRUB's one-shot and
// saved entries (grubenv), then the /boot/vmlinuz and /vmlinuz links Debian's kernel packages
// keep pointing at the newest kernel. Pure parsing on what was read, and one thin reader.
import { readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KERNEL_DIR } from './installed.js';

// What the reader found, each missing where the host has none.
export interface BootFiles {
  // The text of /boot/grub/grubenv (or /boot/grub2/grubenv).
  readonly grubenv?: string | undefined;
  // Where /boot/vmlinuz and /vmlinuz point, in that order.
  readonly links: readonly (string | undefined)[];
}

// The kernel release a kernel image's path names (vmlinuz-6.1.0-56-amd64, /boot/vmlinuz-…).
export function kernelOfImage(path: string): string | undefined {
  const match = /^(?:vmlinuz|vmlinux|bzImage|Image)-(.+)$/.exec(basename(path));
  return match !== null && match[1] !== undefined && KERNEL_DIR.test(match[1]) ? match[1] : undefined;
}

// The kernel a GRUB menu entry's title names ("…, with Linux 6.12.117+deb12-amd64"), if any.
export function kernelOfGrubEntry(entry: string): string | undefined {
  const match = /with Linux (\S+?)(?:\s|$)/.exec(entry);
  return match !== null && match[1] !== undefined && KERNEL_DIR.test(match[1]) ? match[1] : undefined;
}

// One grubenv variable (the file is NAME=VALUE lines padded with '#').
export function grubenvValue(text: string, name: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}=`)) return line.slice(name.length + 1);
  }
  return undefined;
}

// The next boot's kernel by the boot files: GRUB's next_entry (grub-reboot), its saved_entry,
// then the links; undefined when none names a kernel (then the newest installed one boots, as
// GRUB's and systemd-boot's defaults order them).
export function bootDefaultKernel(files: BootFiles): string | undefined {
  if (files.grubenv !== undefined) {
    for (const name of ['next_entry', 'saved_entry']) {
      const value = grubenvValue(files.grubenv, name);
      const kver = value === undefined ? undefined : kernelOfGrubEntry(value);
      if (kver !== undefined) return kver;
    }
  }
  for (const link of files.links) {
    const kver = link === undefined ? undefined : kernelOfImage(link);
    if (kver !== undefined) return kver;
  }
  return undefined;
}

// Reads the boot files under hostRoot; what cannot be read is left out.
export function readBootFiles(hostRoot: string): BootFiles {
  const text = (path: string): string | undefined => {
    try {
      return readFileSync(join(hostRoot, path), 'utf8').slice(0, 4096);
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
  return { grubenv: text('boot/grub/grubenv') ?? text('boot/grub2/grubenv'), links: [link('boot/vmlinuz'), link('vmlinuz')] };
}
