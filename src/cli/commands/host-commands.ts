// `kvc host-commands <name> [--bindir DIR] [--libdir DIR] [--remove]`
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { writeHostCommands } from '../../ops/host-commands.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// Where kvc-tool is: the folder kvc's own bundle is installed in (/usr/local/lib/kvc).
const OWN_LIBDIR = dirname(fileURLToPath(import.meta.url));

// The command's help, as data.
export const HOST_COMMANDS_HELP: CommandHelp = {
  summary: 'write host commands for the tools an instance declares (KVC_HOST_TOOLS)',
  description:
    'Writes one host command per tool listed in KVC_HOST_TOOLS of <name>.conf (e.g. /usr/local/bin/usbip for '
      + '/usr/sbin/usbip). Each runs the tool in the instance\'s tools container while it is loaded (no container '
      + 'start), else in a new container through `kvc wrapper`; stdio and exit status pass through unchanged. '
      + 'A file kvc did not write is never replaced. make install writes usbip\'s. With --dry-run, says what it would write.',
  examples: ['kvc host-commands usbip', 'kvc host-commands usbip --remove', 'kvc --dry-run host-commands usbip --bindir /opt/bin'],
};

// Adds `kvc host-commands` to the program.
export function registerHostCommands(program: Command, outcome: Outcome): void {
  describeCommand(program.command('host-commands'), HOST_COMMANDS_HELP)
    .argument('<name>', 'instance name')
    .option('--bindir <dir>', 'where to write them (kvc must be in the same folder)', '/usr/local/bin')
    .option('--libdir <dir>', 'where kvc-tool is (default: the folder kvc itself is installed in)')
    .option('--remove', 'remove them instead')
    .action(withSession(outcome, async (session, name: string, options: { bindir: string; libdir?: string; remove?: boolean }) => {
      const settings = await session.instance(checkInstanceName(name));
      writeHostCommands(settings, options.bindir, options.libdir ?? OWN_LIBDIR, session.logger, {
        ...(options.remove === true ? { remove: true } : {}),
        ...(session.dryRun ? { dryRun: true } : {}),
      });
    }));
}
