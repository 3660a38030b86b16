// `kvc status [<name>] [<kver>] [--json]`
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { gatherStatus, statusExit, statusJson, type InstanceStatus } from '../../ops/status.js';
import { formatStatus } from '../../ops/status-text.js';
import { escapeControls } from '../../log/sanitize.js';
import { checkKernelRelease } from '../../kernel/release.js';
import { connectSystemBus } from '../../bus/system-bus.js';
import { Systemd, unitName } from '../../bus/systemd.js';
import { describeError } from '../../errors.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';
import { DEVICE_MANAGERS } from '../payloads.js';

// The command's help, as data.
export const STATUS_HELP: CommandHelp = {
  summary: 'show instances, each kernel\'s image (built, building, failed…), their modules',
  description:
    'Shows the configured instances; per installed kernel whether its image is built (when, how big), being built, '
    + 'queued, failed (why, when it is tried again, its log) or refused (why), and a warning when the kernel that '
    + 'boots next has no image; which modules are loaded now; the tools container; the kvc@ unit. '
    + 'Every kernel is shown, the running one (uname -r) marked, unless <kver> names one. '
    + 'The text and --json are the same report, field for field. Status only reads (--dry-run is ignored, with a word) and exits non-zero when it found an error: '
    + '78 for a configuration error (a .conf or devices file), else 70 for a failed build or an image it could not probe; the problems are listed last.',
  examples: ['kvc status', 'kvc status usbip --json', 'kvc status usbip $(uname -r)'],
};

// Adds `kvc status` to the program.
export function registerStatus(program: Command, outcome: Outcome): void {
  describeCommand(program.command('status'), STATUS_HELP)
    .argument('[name]', 'only this instance')
    .argument('[kver]', 'only this kernel (default: every kernel, the running one marked)')
    .option('--json', 'print JSON (stable field names) instead of text')
    .action(withSession(outcome, async (session, name: string | undefined, kver: string | undefined, options: { json?: boolean }) => {
      const scope = { only: name === undefined ? undefined : checkInstanceName(name), kernel: kver === undefined ? undefined : checkKernelRelease(kver) };
      const report = await gatherStatus(session.ctx, session.global.keepKernels, readUnitStates, scope);
      process.stdout.write(options.json === true ? statusJson(report) : `${escapeControls(formatStatus(report, DEVICE_MANAGERS))}\n`);
      return statusExit(report);
    }, { dryRun: 'ignore' }));
}

// Each instance's kvc@ unit state from systemd over the system bus; returns why there is none, or null.
async function readUnitStates(instances: InstanceStatus[]): Promise<string | null> {
  let bus;
  try {
    bus = await connectSystemBus();
  } catch (error) {
    for (const instance of instances) instance.unit = null;
    return describeError(error);
  }
  try {
    const systemd = new Systemd(bus);
    for (const instance of instances) instance.unit = await systemd.unitState(unitName(instance.name)).catch(() => null);
    return null;
  } finally {
    bus.disconnect();
  }
}
