// Keeps the reconciler's facts current: what decides which kernels are there and which boots
// next. The module trees (KernelWatcher) and the boot files (BootWatcher) each ask for a pass,
// debounced; the reconciler reads the facts itself when it plans (reconcile-plan.ts decides).
import type { Logger } from '../log/logger.js';
import { moduleRoots } from '../kernel/installed.js';
import { KernelWatcher } from './kernel-watcher.js';
import { BootWatcher } from './boot-watcher.js';

// What the watchers report to: the reconciler's two entry points.
export interface FactsListener {
  request(why: string, kver?: string): void;
  removed(kver: string): void;
}

// Where to watch, how long writes must have stopped, and the kernel that runs (never reported gone).
export interface BootFactsOptions {
  readonly hostRoot: string;
  readonly runningKernel: string;
  readonly settleMs: number;
  readonly logger: Logger;
}

// Starts both watchers; resolves once the module trees' first scan is done. close() stops both.
export async function watchBootFacts(options: BootFactsOptions, listener: FactsListener): Promise<{ close(): Promise<void> }> {
  const { logger } = options;
  const kernels = new KernelWatcher({
    roots: moduleRoots(options.hostRoot),
    settleMs: options.settleMs,
    logger,
    onReady: (found) => {
      logger.info(`new kernel ${found}`);
      listener.request(`kernel ${found} installed`, found);
    },
    onRemoved: (gone) => {
      if (gone === options.runningKernel) return;
      logger.info(`kernel ${gone} was removed`);
      listener.removed(gone);
    },
    onChanged: (changed) => listener.request(`kernel ${changed}'s modules changed`),
  });
  await kernels.start();
  // The next boot is decided later than the modules appear (a package's postinst moves the links
  // and updates the boot loader): plan again when that happens.
  const boot = new BootWatcher({ hostRoot: options.hostRoot, settleMs: options.settleMs, logger, onChange: (what) => listener.request(`boot files changed: ${what}`) });
  boot.start();
  return {
    close: async () => {
      boot.close();
      await kernels.close();
    },
  };
}
