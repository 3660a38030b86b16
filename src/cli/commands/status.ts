// `kvc status [<name>] [--json]`
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { formatStatus, gatherStatus } from '../../ops/status.js';
import { withSession, type Outcome } from '../command-kit.js';

export function registerStatus(program: Command, outcome: Outcome): void {
  program
    .command('status')
    .summary('show instances, their images and their modules')
    .description('Show the configured instances, which kernels have images, which modules are loaded now, and the tools container.')
    .argument('[name]', 'only this instance')
    .option('--json', 'print JSON (stable field names) instead of text')
    .action(withSession(outcome, async (session, name: string | undefined, options: { json?: boolean }) => {
      const report = await gatherStatus(session.ctx, name === undefined ? undefined : checkInstanceName(name));
      process.stdout.write(options.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report)}\n`);
    }));
}
