// Watches what decides the next boot (the vmlinuz links in / and /boot, grubenv, GRUB's and
// BLS's folders) and reports a change once writes have stopped for settleMs: a kernel package
// writes its modules first and moves the links later, in its postinst.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';

// The folders watched, relative to the host root, and which of their entries matter ('' = all).
export const BOOT_WATCHES: readonly { readonly dir: string; readonly names: RegExp }[] = [
  { dir: '', names: /^(vmlinuz|vmlinux|initrd\.img)(\.old)?$/ },
  { dir: 'boot', names: /^(vmlinuz|vmlinux|initrd\.img|bzImage)/ },
  { dir: 'boot/grub', names: /^(grubenv|grub\.cfg)$/ },
  { dir: 'boot/grub2', names: /^(grubenv|grub\.cfg)$/ },
  { dir: 'boot/loader', names: /^loader\.conf$/ },
  { dir: 'boot/loader/entries', names: /\.conf$/ },
];

// Whether an event on `name` in the watched folder `dir` can change the next boot.
export function bootRelevant(dir: string, name: string | null): boolean {
  const watched = BOOT_WATCHES.find((candidate) => candidate.dir === dir);
  // fs.watch may give no name: anything in that folder may have changed.
  return watched !== undefined && (name === null || watched.names.test(name));
}

// What the watcher needs.
export interface BootWatcherOptions {
  readonly hostRoot: string;
  readonly settleMs: number;
  readonly logger: Logger;
  readonly onChange: (what: string) => void;
}

// Reports a change of the boot files once per burst. Folders made after start are not watched:
// the reconciler's slow timer covers them.
export class BootWatcher {
  private readonly options: BootWatcherOptions;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private changed = new Set<string>();

  constructor(options: BootWatcherOptions) {
    this.options = options;
  }

  // Starts watching the folders that exist; returns them.
  start(): string[] {
    const started: string[] = [];
    for (const { dir } of BOOT_WATCHES) {
      const path = join(this.options.hostRoot, dir);
      try {
        const watcher = watch(path, { persistent: false }, (_event, name) => this.onEvent(dir, name === null ? null : String(name)));
        watcher.on('error', (error) => this.options.logger.verbose(`watching ${path}: ${error.message}`));
        this.watchers.push(watcher);
        started.push(path);
      } catch {
        // Not there (no /boot/loader on a GRUB host): nothing to watch.
      }
    }
    if (started.length > 0) this.options.logger.verbose(`watching ${started.join(', ')} for the next boot's kernel`);
    return started;
  }

  private onEvent(dir: string, name: string | null): void {
    if (!bootRelevant(dir, name)) return;
    this.changed.add(join('/', dir, name ?? ''));
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const what = [...this.changed].sort().join(', ');
      this.changed = new Set();
      this.options.onChange(what);
    }, this.options.settleMs);
  }

  // Stops watching and drops a pending report.
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
  }
}
