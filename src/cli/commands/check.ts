// `kvc check [<name>] [<kver>]` (alias doctor): the preflight, before anything is built or loaded.
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { checkExit, evaluateChecks, formatChecks } from '../../ops/checks.js';
import { gatherCheckFacts } from '../../ops/check-facts.js';
import { escapeControls } from '../../log/sanitize.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// The command's help, as data.
export const CHECK_HELP: CommandHelp = {
  summary: 'check that this host can build and load the instances\' modules, and say what to do',
  description: 'Check, before anything is built or loaded: the container runtime answers and its storage is writable with room for a build; the configuration is valid (every error at once, with its line, and the right name for a misspelled key); each device manager\'s file is valid, owned by root and written by root only; the kernel takes modules (module support, modules_disabled, signature enforcement, lockdown, Secure Boot); its config has what the instances require; which of their modules it has built in; where AppArmor is on, whether its parser is there for kvc\'s profile of the tools. Each line is ok, warn or FAIL with what to do. Exit 0 when nothing failed, else 78 (configuration), 77 (the kernel refuses) or 69 (something missing).',
  examples: ['kvc check', 'kvc check usbip 6.12.117+deb12-amd64', 'kvc doctor usbip'],
};

// Registers `kvc check`.
export function registerCheck(program: Command, outcome: Outcome): void {
  describeCommand(program.command('check'), CHECK_HELP)
    .alias('doctor')
    .argument('[name]', 'only this instance (default: all)')
    .argument('[kver]', 'the kernel to check for (default: the running kernel)')
    .action(withSession(outcome, async (session, name: string | undefined, kver: string | undefined) => {
      const facts = await gatherCheckFacts(session.ctx, kver ?? session.ctx.runningKernel, name === undefined ? undefined : checkInstanceName(name));
      const results = evaluateChecks(facts);
      process.stdout.write(`${escapeControls(formatChecks(results))}\n`);
      return checkExit(results);
    }, { dryRun: 'ignore', lenient: true }));
}
