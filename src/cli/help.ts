// Help as data: each command file keeps its summary, description and examples in one object, and
// `kvc help [command…]` (and `kvc help exit-status`) reads them through commander.
import type { Command } from 'commander';
import { closest } from '../config/did-you-mean.js';
import { EXIT_STATUS_MEANINGS, ExitStatus } from '../errors.js';

// A command's help. The description is prose without line breaks: the terminal's width wraps it.
export interface CommandHelp {
  // One line for the list of commands.
  readonly summary: string;
  readonly description: string;
  // Command lines as a user types them, at least one.
  readonly examples: readonly string[];
}

// Help topics that are not commands.
export const HELP_TOPICS = ['exit-status'] as const;

// The help each command was given, for the man page and the completions (scripts/gen-docs.mjs).
const HELP_OF = new WeakMap<Command, CommandHelp>();

// The help describeCommand gave `command`, if any.
export function helpOf(command: Command): CommandHelp | undefined {
  return HELP_OF.get(command);
}

// Gives a command its summary, description and examples (shown after the options).
export function describeCommand(command: Command, help: CommandHelp): Command {
  HELP_OF.set(command, help);
  return command
    .summary(help.summary)
    .description(help.description)
    .addHelpText('after', `\nExamples:\n${help.examples.map((line) => `  ${line}`).join('\n')}`);
}

// The exit status table as `kvc help exit-status` prints it.
export function exitStatusText(): string {
  const rows = (Object.keys(ExitStatus) as (keyof typeof ExitStatus)[]).map((key) => `  ${String(ExitStatus[key]).padStart(3)}  ${EXIT_STATUS_MEANINGS[key]}`);
  return `Exit statuses of kvc (sysexits(3) where one fits):\n${rows.join('\n')}\n`;
}

// The command `words` name under `program` (`['kube', 'module']`), or where the search stopped
// and why: "unknown command 'modul' (did you mean module?)".
export function findCommand(program: Command, words: readonly string[]): Command | { readonly at: Command; readonly message: string } {
  let command = program;
  for (const word of words) {
    const next = command.commands.find((candidate) => candidate.name() === word || candidate.aliases().includes(word));
    if (next === undefined) {
      const names = command.commands.map((candidate) => candidate.name());
      const near = closest(word, command === program ? [...names, ...HELP_TOPICS] : names);
      return { at: command, message: `unknown command '${word}'${near === undefined ? '' : ` (did you mean ${near}?)`}` };
    }
    command = next;
  }
  return command;
}

// "kvc kube module": the words that run a command.
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at !== null; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

// What `kvc help` itself says.
export const HELP_HELP: CommandHelp = {
  summary: 'show the help of kvc, of a command, or the exit statuses',
  description: 'Without a command, prints the list of commands. With one (or a command and its subcommand), prints that command\'s help: what it does, its arguments and options, examples. `kvc help exit-status` prints the table of exit statuses every command follows. An unknown command name exits 64 and names the nearest ones.',
  examples: ['kvc help build', 'kvc help kube module', 'kvc help exit-status'],
};

// Replaces commander's help command with one that refuses unknown names (64, did-you-mean).
export function registerHelp(program: Command): void {
  program.helpCommand(false);
  describeCommand(program.command('help'), HELP_HELP)
    .argument('[command...]', 'a command, and a subcommand of it')
    .action((words: string[]) => {
      if (words.length === 1 && words[0] === 'exit-status') {
        process.stdout.write(exitStatusText());
        return;
      }
      const found = findCommand(program, words);
      // A usage error as commander says one: one line, exit 64.
      if ('message' in found) found.at.error(found.message);
      else found.outputHelp();
    });
}
