// `kvc enable <name> [--now]`, `kvc disable <name> [--now]`: systemctl's enable/disable, over D-Bus.
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { connectSystemBus } from '../../bus/system-bus.js';
import { JobFailedError, Systemd, unitName } from '../../bus/systemd.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// A start can include a first build from nothing; the unit's own TimeoutStartSec bounds it too.
const JOB_TIMEOUT_MS = 35 * 60 * 1000;

// The commands' help, as data.
export const ENABLE_HELP: CommandHelp = {
  summary: 'enable kvc@<name>.service (and start it with --now)',
  description: 'Enables kvc@<name>.service through systemd\'s D-Bus API, as `systemctl enable` does, so the modules are loaded at every boot. With --now also starts it and waits until the start job has finished (the image built if it was missing, the modules loaded), then reports the unit\'s state.',
  examples: ['kvc enable usbip --now', 'systemctl enable --now kvc@usbip   (the same through systemctl)'],
};

// `kvc disable`'s help.
export const DISABLE_HELP: CommandHelp = {
  summary: 'disable kvc@<name>.service (and stop it with --now)',
  description: 'Disables kvc@<name>.service through systemd\'s D-Bus API, as `systemctl disable` does. With --now also stops it (which unloads the modules) and waits for the stop job.',
  examples: ['kvc disable usbip --now'],
};

// Why --dry-run is refused: the work is systemd's.
const SYSTEMD_ACTS = { refuse: 'systemd does the work, and its jobs have no dry run (`systemctl cat kvc@<name>` shows what the unit runs)' };

// Adds `kvc enable` and `kvc disable` to the program.
export function registerEnable(program: Command, outcome: Outcome): void {
  describeCommand(program.command('enable'), ENABLE_HELP)
    .argument('<name>', 'instance name')
    .option('--now', 'also start the unit and wait for it')
    .action(withSession(outcome, async (session, name: string, options: { now?: boolean }) => {
      await session.instance(checkInstanceName(name));
      const unit = unitName(name);
      const bus = await connectSystemBus();
      try {
        const systemd = new Systemd(bus);
        await systemd.enable(unit);
        session.logger.info(`enabled ${unit}`);
        if (options.now === true) {
          session.logger.info(`starting ${unit} (this builds the image first if it is missing)`);
          const result = await systemd.runJob('StartUnit', unit, JOB_TIMEOUT_MS);
          if (result !== 'done') throw new JobFailedError(`starting ${unit} ended with result "${result}"`, { hint: `see: journalctl -u ${unit}` });
          const state = await systemd.unitState(unit);
          session.logger.info(`${unit} is ${state.activeState} (${state.subState})${state.statusText === '' ? '' : `: ${state.statusText}`}`);
        }
      } finally {
        bus.disconnect();
      }
    }, { dryRun: SYSTEMD_ACTS }));

  describeCommand(program.command('disable'), DISABLE_HELP)
    .argument('<name>', 'instance name')
    .option('--now', 'also stop the unit and wait for it')
    .action(withSession(outcome, async (session, name: string, options: { now?: boolean }) => {
      const unit = unitName(checkInstanceName(name));
      const bus = await connectSystemBus();
      try {
        const systemd = new Systemd(bus);
        await systemd.disable(unit);
        session.logger.info(`disabled ${unit}`);
        if (options.now === true) {
          const result = await systemd.runJob('StopUnit', unit, JOB_TIMEOUT_MS);
          if (result !== 'done') throw new JobFailedError(`stopping ${unit} ended with result "${result}"`, { hint: `see: journalctl -u ${unit}` });
          session.logger.info(`stopped ${unit}`);
        }
      } finally {
        bus.disconnect();
      }
    }, { dryRun: SYSTEMD_ACTS }));
}
