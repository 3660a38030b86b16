// `kvc enable <name> [--now]`, `kvc disable <name> [--now]`: systemctl's enable/disable, over D-Bus.
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { connectSystemBus } from '../../bus/system-bus.js';
import { JobFailedError, Systemd, unitName } from '../../bus/systemd.js';
import { withSession, type Outcome } from '../command-kit.js';

// A start can include a first build from nothing; the unit's own TimeoutStartSec bounds it too.
const JOB_TIMEOUT_MS = 35 * 60 * 1000;

export function registerEnable(program: Command, outcome: Outcome): void {
  program
    .command('enable')
    .summary('enable kvc@<name>.service (and start it with --now)')
    .description('Enable kvc@<name>.service through systemd\'s D-Bus API, as `systemctl enable` does;\nwith --now also start it and wait until the start job has finished (the modules are loaded).')
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
    }));

  program
    .command('disable')
    .summary('disable kvc@<name>.service (and stop it with --now)')
    .description('Disable kvc@<name>.service through systemd\'s D-Bus API, as `systemctl disable` does;\nwith --now also stop it (unloading the modules) and wait for the stop job.')
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
    }));
}
