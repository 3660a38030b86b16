// Watches what decides the next boot (the vmlinuz links in / and /boot, themselves, not what
// they point at; grubenv and grub.cfg; systemd-boot's loader.conf and the BLS entries) and
// reports a change once writes have stopped for settleMs: a kernel package writes its modules
// first and moves the links and updates the boot loader later, in its postinst.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';

// The folders watched, relative to the host root, and which of their entries matter ('' = all).
export const BOOT_WATCHES: readonly { readonly dir: string; readonly names: RegExp }[] = [
  { dir: '', names: /^(vmlinuz|vmlinux|initrd\.img)(\.old)?$/ },
  { dir: 'boot', names: /^(vmlinuz|vmlinux|initrd\.img|bzImage)/ },
  { dir: 'boot/grub', names: /^(grubenv|grub\.cfg)$/ },
  { dir: 'boot/grub2', names: /^(grubenv|grub\.cfg)$/ },
  ...['boot/loader', 'efi/loader', 'boot/efi/loader'].flatMap((dir) => [
    { dir, names: /^loader\.conf$/ },
    { dir: `${dir}/entries`, names: /\.conf$/ },
  ]),
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

// Reports a change of the boot files once per burst. A folder made after start (systemd-boot
// installed, a first BLS entry) is watched from the next event in a watched folder on, and its
// appearance counts as a change; the reconciler's slow timer covers the rest.
export class BootWatcher {
  private readonly options: BootWatcherOptions;
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private changed = new Set<string>();

  constructor(options: BootWatcherOptions) {
    this.options = options;
  }

  // Starts watching the folders that exist; returns them.
  start(): string[] {
    const started = this.arm();
    if (started.length > 0) this.options.logger.verbose(`watching ${started.join(', ')} for the next boot's kernel`);
    return started;
  }

  // Watches the folders not watched yet that exist now; returns them.
  private arm(): string[] {
    const started: string[] = [];
    for (const { dir } of BOOT_WATCHES) {
      if (this.watchers.has(dir)) continue;
      const path = join(this.options.hostRoot, dir);
      try {
        const watcher = watch(path, { persistent: false }, (_event, name) => this.onEvent(dir, name === null ? null : String(name)));
        // A folder removed (or its file system unmounted): watched again once it is back.
        watcher.on('error', (error) => {
          this.options.logger.verbose(`watching ${path}: ${error.message}`);
          this.forget(dir);
        });
        this.watchers.set(dir, watcher);
        started.push(path);
      } catch {
        // Not there (no /boot/loader on a GRUB host): nothing to watch.
      }
    }
    return started;
  }

  private forget(dir: string): void {
    this.watchers.get(dir)?.close();
    this.watchers.delete(dir);
  }

  private onEvent(dir: string, name: string | null): void {
    const armed = this.arm();
    if (!bootRelevant(dir, name) && armed.length === 0) return;
    for (const path of armed) this.changed.add(`${path.slice(this.options.hostRoot.length).replace(/^\/*/, '/')} (new)`);
    if (bootRelevant(dir, name)) this.changed.add(join('/', dir, name ?? ''));
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
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }
}
