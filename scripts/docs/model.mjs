// The command line as data, read from the commander program kvc runs (lib/cli/program.js) and the
// help each command file gives (helpOf): what kvc(8) and the shell completions are made from, so
// that they say what `kvc --help` says.
import { buildProgram } from '../../lib/cli/program.js';
import { helpOf } from '../../lib/cli/help.js';

// One option as the man page and the completions need it.
function optionOf(option) {
  const value = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    flags: option.flags,
    short: option.short,
    long: option.long,
    // The placeholder of the value it takes (dir, file, kver…), undefined for a switch.
    value,
    choices: option.argChoices,
    description: option.description,
    defaultValue: Array.isArray(option.defaultValue) && option.defaultValue.length === 0 ? undefined : option.defaultValue,
  };
}

// -h, --help, which commander adds to every command without listing it among the options.
const HELP_OPTION = { flags: '-h, --help', short: '-h', long: '--help', value: undefined, choices: undefined, description: 'display help for command', defaultValue: undefined };

// The program: its help and global options, and every command and subcommand in the order
// `kvc --help` lists them, each with its path, usage, arguments, own options and help.
export function commandModel() {
  const program = buildProgram({ status: 0 });
  const globalLongs = new Set(program.options.map((option) => option.long));
  const commands = [];
  const visit = (command, path) => {
    const help = helpOf(command);
    if (help === undefined) throw new Error(`kvc ${path.join(' ')} has no help object (describeCommand)`);
    commands.push({
      path,
      name: command.name(),
      aliases: command.aliases(),
      usage: command.usage(),
      help,
      arguments: command.registeredArguments.map((argument) => ({ name: argument.name(), required: argument.required, variadic: argument.variadic, description: argument.description })),
      options: [...command.options.filter((option) => !globalLongs.has(option.long)).map(optionOf), HELP_OPTION],
      // Whether the global options are taken after the command too (all but wrapper and help).
      globals: command.options.some((option) => globalLongs.has(option.long)),
      subcommands: command.commands.map((sub) => sub.name()),
    });
    for (const sub of command.commands) visit(sub, [...path, sub.name()]);
  };
  for (const command of program.commands) visit(command, [command.name()]);
  return {
    version: program.version(),
    help: helpOf(program),
    globalOptions: [...program.options.map(optionOf), HELP_OPTION],
    commands,
  };
}
