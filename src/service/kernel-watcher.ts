// Watches the kernel module trees (/usr/lib/modules, /lib/modules) for kernels that appear or go.
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log/logger.js';
import { COMPLETE_MARKERS, KERNEL_DIR, distinctRoots, kernelDirComplete } from '../kernel/installed.js';

export { distinctRoots, kernelDirComplete };

// What the watcher needs: where to look, how long writes must have stopped, and what to call.
export interface KernelWatcherOptions {
  readonly roots: readonly string[];
  readonly settleMs: number;
  readonly logger: Logger;
  readonly onReady: (kver: string) => void;
  readonly onRemoved: (kver: string) => void;
  // A kernel reported before was written to again (depmod's output, a package's later steps).
  readonly onChanged?: (kver: string) => void;
}

// Reports a kernel once its directory is complete and no write has touched it for settleMs, and
// reports its removal; a burst of changes gives one report.
export class KernelWatcher {
  private readonly options: KernelWatcherOptions;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly reported = new Set<string>();
  private watcher: FSWatcher | undefined;
  private roots: string[] = [];

  constructor(options: KernelWatcherOptions) {
    this.options = options;
  }

  // Starts watching; resolves once the initial scan is done. Kernels present now are not reported.
  // A root that cannot be read is left out, with a warning that names it; the others are watched.
  async start(): Promise<readonly string[]> {
    this.roots = distinctRoots(this.options.roots).filter((root) => this.readable(root));
    if (this.roots.length === 0) {
      this.options.logger.warn(`none of ${this.options.roots.join(', ')} exists and can be read; new kernels will not be noticed`);
      return [];
    }
    const watcher = watch(this.roots, { ignoreInitial: true, depth: 1, persistent: true, followSymlinks: false });
    this.watcher = watcher;
    watcher.on('all', (event, path) => this.onEvent(event, String(path)));
    watcher.on('error', (error) => this.options.logger.warn(`watching ${this.roots.join(', ')}: ${error instanceof Error ? error.message : String(error)}`));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.options.logger.info(`watching ${this.roots.join(' and ')} for new kernels`);
    return this.roots;
  }

  private readable(root: string): boolean {
    try {
      readdirSync(root);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      this.options.logger.warn(`cannot read ${root} (${code}): kernels installed there will not be noticed; make it readable by root and restart the service`);
      return false;
    }
  }

  private onEvent(event: string, path: string): void {
    const root = this.roots.find((candidate) => path === candidate || path.startsWith(candidate + sep));
    if (root === undefined) return;
    const [kver, ...rest] = relative(root, path).split(sep);
    if (kver === undefined || kver === '' || !KERNEL_DIR.test(kver)) return;
    if (event === 'unlinkDir' && rest.length === 0) {
      this.clearTimer(kver);
      if (this.roots.some((other) => existsSync(join(other, kver)))) return;
      this.reported.delete(kver);
      this.options.onRemoved(kver);
      return;
    }
    this.clearTimer(kver);
    this.timers.set(kver, setTimeout(() => this.settled(root, kver), this.options.settleMs));
  }

  private settled(root: string, kver: string): void {
    this.timers.delete(kver);
    const dir = join(root, kver);
    if (!existsSync(dir)) return;
    if (this.reported.has(kver)) {
      this.options.onChanged?.(kver);
      return;
    }
    if (!kernelDirComplete(dir)) {
      this.options.logger.verbose(`${dir} is not complete yet (no ${COMPLETE_MARKERS.join(', ')}); waiting`);
      return;
    }
    this.reported.add(kver);
    this.options.onReady(kver);
  }

  private clearTimer(kver: string): void {
    const timer = this.timers.get(kver);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(kver);
  }

  // Stops watching and drops pending reports.
  async close(): Promise<void> {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.watcher?.close();
  }
}
