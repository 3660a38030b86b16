// `kvc load <name> [kver]`, `kvc unload <name> [kver] [--force]`, `kvc reload <name> [kver]`
import type { Command } from 'commander';
import { buildImage } from '../../ops/build.js';
import { loadModules, unloadModules } from '../../ops/modules.js';
import { assertServiceNotRunning, withInstanceLock } from '../../ops/lock.js';
import { assertRunningKernel } from '../../ops/kernel-check.js';
import { kernelOf, signalOf, withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// The commands' help, as data.
export const LOAD_HELP: CommandHelp = {
  summary: 'load the instance\'s modules into the running kernel',
  description:
    'Loads KMOD_NAMES in the listed order with modprobe run inside the image (its /lib/modules/<kver>, dependencies resolved). '
    + 'A module already loaded or built into the kernel is skipped. If the kernel refuses one, what this command loaded is unloaded again. '
    + 'Then starts the tools container that host commands (such as usbip) run in. '
    + '<kver> defaults to the running kernel; any other is refused (64), since modules load only into the kernel they were built for.',
  examples: ['kvc load usbip', 'systemctl enable --now kvc@usbip   (the service loads them at boot)'],
};

// `kvc unload`'s help.
export const UNLOAD_HELP: CommandHelp = {
  summary: 'unload the instance\'s modules',
  description:
    'Runs the image\'s pre-unload hook (USB/IP: detach ports, unbind devices), then unloads what kvc loaded, newest first (without a record of a kvc load: KMOD_NAMES in reverse order). '
    + 'A module still in use (holders, reference count) is not pulled from under its users unless --force. <kver> defaults to the running kernel.',
  examples: ['kvc unload usbip', 'kvc unload usbip --force'],
};

// `kvc reload`'s help.
export const RELOAD_HELP: CommandHelp = {
  summary: 'build if needed, unload, load',
  description:
    'Builds the image for the running kernel when it is missing or out of date, then unloads the instance\'s modules and loads them again from it, all under the instance\'s lock. '
    + 'Use it after changing the instance\'s Containerfile or .conf. <kver> defaults to the running kernel.',
  examples: ['kvc reload usbip'],
};

const KVER_ARGUMENT = 'the running kernel\'s release (default: $(uname -r))';
const NO_WAIT = 'exit at once (75) when another kvc is working on this instance';

// Adds `kvc load`, `kvc unload` and `kvc reload` to the program.
export function registerLoad(program: Command, outcome: Outcome): void {
  describeCommand(program.command('load'), LOAD_HELP)
    .argument('<name>', 'instance name')
    .argument('[kver]', KVER_ARGUMENT)
    .option('--no-wait', NO_WAIT)
    .action(withSession(outcome, async (session, name: string, given: string | undefined, options: { wait: boolean }) => {
      const settings = await session.instance(name);
      const kver = kernelOf(session, given);
      // Refused before waiting for the instance's lock: a wrong kernel is a typing mistake.
      assertRunningKernel(session.ctx, kver, 'load');
      await withInstanceLock(session.ctx, name, `kvc load ${name} ${kver}`, options, () => loadModules(session.ctx, settings, kver));
    }, { cancellable: true }));

  describeCommand(program.command('unload'), UNLOAD_HELP)
    .argument('<name>', 'instance name')
    .argument('[kver]', KVER_ARGUMENT)
    .option('-f, --force', 'unload even when a module is in use')
    .option('--no-wait', NO_WAIT)
    .action(withSession(outcome, async (session, name: string, given: string | undefined, options: { force?: boolean; wait: boolean }) => {
      const settings = await session.instance(name);
      const kver = kernelOf(session, given);
      assertRunningKernel(session.ctx, kver, 'unload');
      await assertServiceNotRunning(session.ctx, name, 'kvc unload');
      await withInstanceLock(session.ctx, name, `kvc unload ${name} ${kver}`, options, () =>
        unloadModules(session.ctx, settings, kver, { force: options.force === true }));
    }, { cancellable: true }));

  describeCommand(program.command('reload'), RELOAD_HELP)
    .argument('<name>', 'instance name')
    .argument('[kver]', KVER_ARGUMENT)
    .option('--no-wait', NO_WAIT)
    .action(withSession(outcome, async (session, name: string, given: string | undefined, options: { wait: boolean }) => {
      const settings = await session.instance(name);
      const kver = kernelOf(session, given);
      assertRunningKernel(session.ctx, kver, 'reload');
      await assertServiceNotRunning(session.ctx, name, 'kvc reload');
      await withInstanceLock(session.ctx, name, `kvc reload ${name} ${kver}`, options, async () => {
        await buildImage(session.ctx, settings, kver, { network: session.global.buildNetwork, ...signalOf(session) });
        await unloadModules(session.ctx, settings, kver);
        await loadModules(session.ctx, settings, kver);
      });
    }, { cancellable: true }));
}
