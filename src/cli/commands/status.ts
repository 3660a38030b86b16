// `kvc status [<name>] [--json]`
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { formatStatus, gatherStatus, statusExit, type InstanceStatus } from '../../ops/status.js';
import { escapeControls } from '../../log/sanitize.js';
import { connectSystemBus } from '../../bus/system-bus.js';
import { Systemd, unitName } from '../../bus/systemd.js';
import { describeError } from '../../errors.js';
import { withSession, type Outcome } from '../command-kit.js';

export function registerStatus(program: Command, outcome: Outcome): void {
  program
    .command('status')
    .summary('show instances, each kernel\'s image (built, building, failed…), their modules')
    .description(
      'Show the configured instances; per installed kernel whether its image is built (when, how big), being built,\n'
      + 'queued, failed (why, when it is tried again, its log) or refused (why), and a warning when the kernel that\n'
      + 'boots next has no image; which modules are loaded now; the tools container; the kvc@ unit.',
    )
    .argument('[name]', 'only this instance')
    .option('--json', 'print JSON (stable field names) instead of text')
    .action(withSession(outcome, async (session, name: string | undefined, options: { json?: boolean }) => {
      const report = await gatherStatus(session.ctx, session.global.keepKernels, readUnitStates, name === undefined ? undefined : checkInstanceName(name));
      process.stdout.write(options.json === true ? `${JSON.stringify(report, (key, value: unknown) => (key === 'deviceLines' ? undefined : value), 2)}\n` : `${escapeControls(formatStatus(report))}\n`);
      return statusExit(report);
    }, { readOnly: true }));
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
