// `kvc wrapper <name> <kver> <command> [args...]`
import type { Command } from 'commander';
import { runWrapped } from '../../ops/wrapper.js';
import { withSession, type Outcome } from '../command-kit.js';

export function registerWrapper(program: Command, outcome: Outcome): void {
  program
    .command('wrapper')
    .summary('run a userspace tool from the instance\'s image')
    .description(
      'Run <command> from the image for <kver>, with the host\'s network, /sys and /dev.\n'
      + 'stdin, stdout, stderr and the exit status pass through unchanged. While the instance is loaded\n'
      + 'the command runs in the tools container (no container start); otherwise in a new container.',
    )
    .argument('<name>', 'instance name')
    .argument('<kver>', 'kernel release of the image to use')
    .argument('<command>', 'the tool to run, e.g. usbip')
    .argument('[args...]', 'its arguments (put -- before them if they start with -)')
    .passThroughOptions()
    .action(withSession(outcome, async (session, name: string, kver: string, command: string, args: string[]) => {
      return runWrapped(session.ctx, await session.instance(name), kver, [command, ...args]);
    }));
}
