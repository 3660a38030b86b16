// What command files share: how an action gets its session and reports its exit status.
import type { Command } from 'commander';
import { openSession, type GlobalOptions, type Session } from '../ops/session.js';
import { InterruptedError } from '../errors.js';

// Where a command leaves its exit status for main (the only place that exits).
export interface Outcome {
  status: number;
}

// Wraps an action: opens the session from the global options, runs, records the status.
// A cancellable action sees SIGINT/SIGTERM as an aborted ctx.signal, so it can stop its
// containers and clean up instead of dying half-way.
export function withSession<A extends unknown[]>(
  outcome: Outcome,
  body: (session: Session, ...args: A) => Promise<number | void>,
  // readOnly: the command only reads, so --dry-run has nothing to leave out: it is ignored, saying so.
  // lenient: a broken kvc.conf does not stop the command (kvc check, which reports it).
  options: { cancellable?: boolean; readOnly?: boolean; lenient?: boolean } = {},
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => controller.abort(new InterruptedError(`interrupted by ${signal}`, { hint: 'nothing was left half-done' }));
    if (options.cancellable === true) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    try {
      const given = command.optsWithGlobals<GlobalOptions>();
      const ignoreDryRun = options.readOnly === true && given.dryRun === true;
      const session = await openSession(ignoreDryRun ? { ...given, dryRun: false } : given, process.env, options.cancellable === true ? controller.signal : undefined, options.lenient === true);
      if (ignoreDryRun) session.logger.warn(`--dry-run ignored: kvc ${command.name()} only reads, it changes nothing`);
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
