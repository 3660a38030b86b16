#!/usr/bin/env node
// kvc's entry point: runs the command line and owns the process's exit status.
import { CommanderError, type Command } from 'commander';
import { closest } from '../config/did-you-mean.js';
import { describeError, exitStatusOf, ExitStatus } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { buildProgram } from './program.js';
import type { Outcome } from './command-kit.js';

// Runs kvc with argv (as process.argv) and resolves with the exit status.
export async function main(argv: readonly string[]): Promise<number> {
  const outcome: Outcome = { status: 0 };
  const program = buildProgram(outcome);
  // `kvc` alone: the usage, as an error (a script that forgot its command must not pass).
  if (argv.length <= 2) {
    process.stderr.write(program.helpInformation());
    return ExitStatus.usage;
  }
  // `kvc help NOSUCH`: commander would print the general help and exit 0.
  const unknown = helpForUnknown(program, argv.slice(2));
  if (unknown !== undefined) {
    process.stderr.write(`kvc: ${unknown}; see kvc --help\n`);
    return ExitStatus.usage;
  }
  try {
    await program.parseAsync([...argv]);
    return outcome.status;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return ExitStatus.usage;
    }
    createLogger({ verbose: argv.includes('--verbose') || argv.includes('-v') }).error(describeError(error));
    if (argv.includes('--verbose') && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
    return exitStatusOf(error);
  }
}

// Why `kvc help <words>` names no command (with a did-you-mean), or undefined when it does.
function helpForUnknown(program: Command, args: readonly string[]): string | undefined {
  if (args[0] !== 'help' || args[1] === undefined) return undefined;
  let command = program;
  for (const word of args.slice(1)) {
    const next = command.commands.find((sub) => sub.name() === word || sub.aliases().includes(word));
    if (next === undefined) {
      const suggestion = closest(word, command.commands.map((sub) => sub.name()));
      return `unknown command '${word}'${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}`;
    }
    command = next;
  }
  return undefined;
}

process.exitCode = await main(process.argv);
