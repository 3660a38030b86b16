// The command line: global options and one registration per command file.
import { Command, Option } from 'commander';
import type { Outcome } from './command-kit.js';
import { registerBuild } from './commands/build.js';
import { registerEnable } from './commands/enable.js';
import { registerHostCommands } from './commands/host-commands.js';
import { registerKey } from './commands/key.js';
import { registerKube } from './commands/kube.js';
import { registerLoad } from './commands/load.js';
import { registerPush } from './commands/push.js';
import { registerService } from './commands/service.js';
import { registerStatus } from './commands/status.js';
import { registerWrapper } from './commands/wrapper.js';

// The version printed by --version.
export const VERSION = '0.1.0';

// Builds the commander program; `outcome` receives the exit status of the command that ran.
export function buildProgram(outcome: Outcome): Command {
  const program = addGlobalOptions(new Command('kvc'))
    .description('Kernel modules via containers: build out-of-tree kernel modules in an image made for one kernel, load and unload them from it, and run their userspace tools from it.')
    .version(VERSION)
    .enablePositionalOptions()
    .addHelpText('after', '\nExamples:\n  kvc build usbip $(uname -r)\n  kvc load usbip $(uname -r)\n  kvc wrapper usbip $(uname -r) usbip list -l\n  kvc status --json\n  systemctl enable --now kvc@usbip')
    .exitOverride();
  // Usage errors are one line, like every other error.
  program.configureOutput({ outputError: (text, write) => write(`kvc: ${text.trim().replace(/^error: /, '')}; see kvc --help\n`) });
  registerBuild(program, outcome);
  registerLoad(program, outcome);
  registerWrapper(program, outcome);
  registerStatus(program, outcome);
  registerEnable(program, outcome);
  registerHostCommands(program, outcome);
  registerService(program, outcome);
  registerPush(program, outcome);
  registerKube(program, outcome);
  registerKey(program, outcome);
  // Subcommands (`kvc kube module`) are treated as the commands are.
  for (const command of program.commands.flatMap((top) => [top, ...top.commands])) {
    command.exitOverride();
    command.configureOutput(program.configureOutput());
    // The global options also work after the command (`kvc build usbip 6.1 --verbose`), except for
    // wrapper, where what follows the tool's name belongs to the tool.
    if (command.name() !== 'wrapper') addGlobalOptions(command);
  }
  return program;
}

// --config-dir, --runtime, --verbose, --dry-run.
function addGlobalOptions(command: Command): Command {
  return command
    .option('-c, --config-dir <dir>', 'configuration directory (default /etc/kvc; env KVC_CONFIG_DIR)')
    .addOption(new Option('--runtime <runtime>', 'container runtime, overriding KVC_CONTAINER_RUNTIME').choices(['podman', 'docker']))
    .option('-v, --verbose', 'show every container command and its progress')
    .option('-n, --dry-run', 'print the container commands instead of running them');
}
