// `kvc service <name>`: the runner kvc@<name>.service starts.
import type { Command } from 'commander';
import { runService } from '../../service/runner.js';
import { withSession, type Outcome } from '../command-kit.js';

export function registerService(program: Command, outcome: Outcome): void {
  program
    .command('service')
    .summary('run as kvc@<name>.service (build, load, stay up, unload on stop)')
    .description(
      'The runner systemd starts for kvc@<name>.service: builds the image for the running kernel if missing,\n'
      + 'loads the modules, reports ready (Type=notify), and unloads them on SIGTERM.',
    )
    .argument('<name>', 'instance name')
    .action(withSession(outcome, async (session, name: string) => runService(session, name)));
}
