// `kvc service <name>`: the runner kvc@<name>.service starts.
import type { Command } from 'commander';
import { runService } from '../../service/runner.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// The command's help, as data.
export const SERVICE_HELP: CommandHelp = {
  summary: 'run as kvc@<name>.service (build, load, stay up, unload on stop)',
  description:
    'The runner systemd starts for kvc@<name>.service: builds the image for the running kernel if missing, loads the modules, reports ready (Type=notify), '
    + 'then stays up building the images of newly installed kernels (the next boot\'s first) and pruning old ones, and unloads the modules on SIGTERM. '
    + 'Not meant to be typed: start the unit instead.',
  examples: ['systemctl start kvc@usbip   (runs: kvc service usbip)', 'journalctl -u kvc@usbip'],
};

// Adds `kvc service` (what kvc@.service runs) to the program.
export function registerService(program: Command, outcome: Outcome): void {
  describeCommand(program.command('service'), SERVICE_HELP)
    .argument('<name>', 'instance name')
    .action(withSession(outcome, async (session, name: string) => runService(session, name), { dryRun: { refuse: 'it is the service itself, which builds, loads and stays up' } }));
}
