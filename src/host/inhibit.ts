// A logind "shutdown" inhibitor lock, as akmods takes one: while kvc builds the modules of a kernel
// the host is about to boot, `systemctl reboot` (checking inhibitors) refuses with kvc's reason.
// Held through systemd-inhibit(1) running `cat` on a pipe from kvc: closing the pipe, or kvc dying
// in any way, ends cat and so releases the lock. No systemd (a container, a chroot): no lock.
import { spawn } from 'node:child_process';
import { findOnPath } from './find-on-path.js';
import type { Logger } from '../log/logger.js';

// A held lock; release() is idempotent.
export interface Inhibitor {
  release(): void;
}

// Takes the lock with `why` as its reason; returns undefined where it cannot be had.
export function inhibitShutdown(why: string, logger: Logger): Inhibitor | undefined {
  const tool = findOnPath('systemd-inhibit') ?? findOnPath('systemd-inhibit', '/usr/bin:/bin');
  const cat = findOnPath('cat') ?? findOnPath('cat', '/usr/bin:/bin');
  if (tool === undefined || cat === undefined) {
    logger.verbose('systemd-inhibit is not here: no shutdown inhibitor while building');
    return undefined;
  }
  const child = spawn(tool, ['--what=shutdown', '--who=kvc', `--why=${why}`, '--mode=block', cat], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += String(chunk); });
  child.on('error', (error) => logger.verbose(`systemd-inhibit could not run: ${error.message}`));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) logger.verbose(`no shutdown inhibitor (systemd-inhibit exit ${code}): ${stderr.trim()}`);
  });
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      child.stdin?.end();
    },
  };
}
