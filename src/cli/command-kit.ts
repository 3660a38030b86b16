// What command files share: how an action gets its session and reports its exit status.
import type { Command } from 'commander';
import { openSession, type GlobalOptions, type Session } from '../ops/session.js';
import { InterruptedError, UsageError } from '../errors.js';
import { checkKernelRelease } from '../kernel/release.js';
import { DEVICE_MANAGERS } from './payloads.js';
import { environment } from '../environment.js';

// Where a command leaves its exit status for main (the only place that exits).
export interface Outcome {
  status: number;
}

// What --dry-run means to a command: 'print' (the default) prints the container commands that
// would change something instead of running them; 'ignore' is for commands that only read (status):
// they run as usual and say so; { refuse: why } is for commands whose effect cannot be printed.
export type DryRunPolicy = 'print' | 'ignore' | { readonly refuse: string };

// Wraps an action: opens the session from the global options, runs, records the status.
// A cancellable action sees SIGINT/SIGTERM as an aborted ctx.signal, so it can stop its
// containers and clean up instead of dying half-way.
export function withSession<A extends unknown[]>(
  outcome: Outcome,
  body: (session: Session, ...args: A) => Promise<number | void>,
  // lenient: a broken kvc.conf does not stop the command (kvc check, which reports it).
  options: { cancellable?: boolean; dryRun?: DryRunPolicy; lenient?: boolean } = {},
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const globals = command.optsWithGlobals<GlobalOptions>();
    const policy = options.dryRun ?? 'print';
    if (globals.dryRun === true && typeof policy === 'object') {
      const path: string[] = [];
      for (let at: Command | null = command; at?.parent; at = at.parent) path.unshift(at.name());
      throw new UsageError(`--dry-run: kvc ${path.join(' ')} has none: ${policy.refuse}`, { hint: 'leave out --dry-run' });
    }
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => controller.abort(new InterruptedError(`interrupted by ${signal}`, { hint: 'nothing was left half-done' }));
    if (options.cancellable === true) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    try {
      const ignored = globals.dryRun === true && policy === 'ignore';
      const session = await openSession(ignored ? { ...globals, dryRun: false } : globals, environment(), options.cancellable === true ? controller.signal : undefined, options.lenient === true, DEVICE_MANAGERS);
      if (ignored) session.logger.warn(`--dry-run ignored: kvc ${command.name()} only reads, so it runs as usual`);
      const status = await body(session, ...args);
      outcome.status = typeof status === 'number' ? status : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };
}

// { signal } of a cancellable session, to spread into an operation's options.
export function signalOf(session: Session): { signal?: AbortSignal } {
  return session.ctx.signal === undefined ? {} : { signal: session.ctx.signal };
}

// The kernel a command works on: the one given, else the running kernel (`uname -r`, or
// KVC_RUNNING_KERNEL), checked as a release.
export function kernelOf(session: Session, kver: string | undefined): string {
  return checkKernelRelease(kver ?? session.ctx.runningKernel);
}
