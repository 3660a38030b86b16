// The command line: global options and one registration per command file.
import { Command, Option } from 'commander';
import type { Outcome } from './command-kit.js';
import { registerBuild } from './commands/build.js';
import { registerCheck } from './commands/check.js';
import { registerEnable } from './commands/enable.js';
import { registerHostCommands } from './commands/host-commands.js';
import { registerKey } from './commands/key.js';
import { registerKube } from './commands/kube.js';
import { registerLoad } from './commands/load.js';
import { registerPublish } from './commands/publish.js';
import { registerPush } from './commands/push.js';
import { registerService } from './commands/service.js';
import { registerStatus } from './commands/status.js';
import { registerWrapper } from './commands/wrapper.js';
import { registerUsbipPeer } from './commands/usbip-peer.js';
import { commandPath, describeCommand, registerHelp, type CommandHelp } from './help.js';

// The version printed by --version.
export const VERSION = '0.1.0';

// kvc's own help, as data.
export const PROGRAM_HELP: CommandHelp = {
  summary: 'kernel modules via containers',
  description: 'Kernel modules via containers: builds out-of-tree kernel modules in an image made for one kernel, loads and unloads them from it, and runs their userspace tools from it. '
    + 'KVER, where a command takes one, defaults to the running kernel (uname -r). `kvc help <command>` explains each command; `kvc help exit-status` lists the exit statuses.',
  examples: ['kvc build usbip', 'kvc load usbip', 'kvc wrapper usbip usbip list -l', 'kvc status --json', 'systemctl enable --now kvc@usbip'],
};

// A usage error from commander as one line, like every other error of kvc:
// "kvc: missing required argument 'name'; see kvc build --help".
export function usageErrorLine(path: string, text: string): string {
  const message = text.trim().replace(/^error: /, '').replace(/\s*\n\s*\(Did you mean (.+)\?\)$/, ' (did you mean $1?)').replace(/\s*\n\s*/g, ' ');
  return `kvc: ${message}; see ${path} --help\n`;
}

// Builds the commander program; `outcome` receives the exit status of the command that ran.
export function buildProgram(outcome: Outcome): Command {
  const program = describeCommand(addGlobalOptions(new Command('kvc')), PROGRAM_HELP)
    .version(VERSION)
    .enablePositionalOptions()
    .showSuggestionAfterError(true);
  registerCheck(program, outcome);
  registerBuild(program, outcome);
  registerLoad(program, outcome);
  registerWrapper(program, outcome);
  registerStatus(program, outcome);
  registerEnable(program, outcome);
  registerHostCommands(program, outcome);
  registerUsbipPeer(program, outcome);
  registerService(program, outcome);
  registerPush(program, outcome);
  registerPublish(program, outcome);
  registerKube(program, outcome);
  registerKey(program, outcome);
  registerHelp(program);
  // Every command (`kvc kube module` too) throws instead of exiting, and says a usage error in one line.
  for (const command of [program, ...program.commands.flatMap((top) => [top, ...top.commands])]) {
    command.exitOverride();
    command.configureOutput({ outputError: (text, write) => write(usageErrorLine(commandPath(command), text)) });
    // The global options also work after the command (`kvc build usbip 6.1 --verbose`), except for
    // wrapper, where what follows the tool's name belongs to the tool.
    if (command !== program && command.name() !== 'wrapper' && command.name() !== 'help') addGlobalOptions(command);
  }
  return program;
}

// --config-dir, --runtime, --verbose, --dry-run.
function addGlobalOptions(command: Command): Command {
  return command
    .option('-c, --config-dir <dir>', 'configuration directory (default /etc/kvc; env KVC_CONFIG_DIR)')
    .addOption(new Option('--runtime <runtime>', 'container runtime, overriding KVC_CONTAINER_RUNTIME').choices(['podman', 'docker']))
    .option('-v, --verbose', 'show every container command and its progress')
    .option('-n, --dry-run', 'print the container commands that would change something instead of running them (read-only commands such as status say so and run as usual)');
}
