#!/usr/bin/env node
// kvc's entry point: runs the command line and owns the process's exit status.
import { CommanderError } from 'commander';
import { errorLines, exitStatusOf, ExitStatus } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { buildProgram } from './program.js';
import type { Outcome } from './command-kit.js';
import { commandLine } from '../environment.js';

// The exit status of commander's own exits: 0 for help and version asked for, 64 for the rest
// (a bad command line, or none: bare `kvc` and `kvc kube` print their usage and exit 64).
function commanderExitStatus(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitStatus.ok;
  if (error.code === 'commander.help' && error.exitCode === 0) return ExitStatus.ok;
  return ExitStatus.usage;
}

// Runs kvc with argv (as process.argv) and resolves with the exit status.
export async function main(argv: readonly string[]): Promise<number> {
  const outcome: Outcome = { status: 0 };
  try {
    await buildProgram(outcome).parseAsync([...argv]);
    return outcome.status;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExitStatus(error);
    const logger = createLogger({ verbose: argv.includes('--verbose') || argv.includes('-v') });
    // One line each: every fault of a configuration file is told at once.
    for (const line of errorLines(error)) logger.error(line);
    if (argv.includes('--verbose') && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
    return exitStatusOf(error);
  }
}

// A reader that stops early (`kvc build --help | head -3`) closes the pipe: stop quietly, as a
// shell tool does on SIGPIPE, instead of a stack trace for the unhandled EPIPE.
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : ExitStatus.ok);
  });
}
quietOnClosedPipe(process.stdout);

process.exitCode = await main(commandLine());
