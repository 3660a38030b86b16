// `kvc load <name> <kver>`, `kvc unload <name> <kver> [--force]`, `kvc reload <name> <kver>`
import type { Command } from 'commander';
import { buildImage } from '../../ops/build.js';
import { loadModules, unloadModules } from '../../ops/modules.js';
import { assertServiceNotRunning, withInstanceLock } from '../../ops/lock.js';
import { signalOf, withSession, type Outcome } from '../command-kit.js';

export function registerLoad(program: Command, outcome: Outcome): void {
  program
    .command('load')
    .summary('load the instance\'s modules into the running kernel')
    .description(
      'Load KMOD_NAMES in the listed order with modprobe run inside the image (its /lib/modules/<kver>, dependencies resolved).\n'
      + 'A module already loaded or built into the kernel is skipped. If the kernel refuses one, what this command loaded is unloaded again.\n'
      + 'Then starts the tools container that host commands (such as usbip) run in.',
    )
    .argument('<name>', 'instance name')
    .argument('[kver]', 'the running kernel\'s release (default: the running kernel, as uname -r prints it)')
    .option('--no-wait', 'exit at once (75) when another kvc is working on this instance')
    .action(withSession(outcome, async (session, name: string, given: string | undefined, options: { wait: boolean }) => {
      const settings = await session.instance(name);
      const kver = given ?? session.ctx.runningKernel;
      await withInstanceLock(session.ctx, name, `kvc load ${name} ${kver}`, options, () => loadModules(session.ctx, settings, kver));
    }, { cancellable: true }));

  program
    .command('unload')
    .summary('unload the instance\'s modules')
    .description(
      'Run the image\'s pre-unload hook (USB/IP: detach ports, unbind devices), then unload KMOD_NAMES in reverse order.\n'
      + 'A module still in use (holders, reference count) is not pulled from under its users unless --force.',
    )
    .argument('<name>', 'instance name')
    .argument('[kver]', 'the running kernel\'s release (default: the running kernel, as uname -r prints it)')
    .option('-f, --force', 'unload even when a module is in use')
    .option('--no-wait', 'exit at once (75) when another kvc is working on this instance')
    .action(withSession(outcome, async (session, name: string, given: string | undefined, options: { force?: boolean; wait: boolean }) => {
      const settings = await session.instance(name);
      const kver = given ?? session.ctx.runningKernel;
      await assertServiceNotRunning(session.ctx, name, 'kvc unload');
      await withInstanceLock(session.ctx, name, `kvc unload ${name} ${kver}`, options, () =>
        unloadModules(session.ctx, settings, kver, { force: options.force === true }));
    }, { cancellable: true }));

  program
    .command('reload')
    .summary('build if needed, unload, load')
    .argument('<name>', 'instance name')
    .argument('[kver]', 'the running kernel\'s release (default: the running kernel, as uname -r prints it)')
    .option('--no-wait', 'exit at once (75) when another kvc is working on this instance')
    .action(withSession(outcome, async (session, name: string, given: string | undefined, options: { wait: boolean }) => {
      const settings = await session.instance(name);
      const kver = given ?? session.ctx.runningKernel;
      await assertServiceNotRunning(session.ctx, name, 'kvc reload');
      await withInstanceLock(session.ctx, name, `kvc reload ${name} ${kver}`, options, async () => {
        await buildImage(session.ctx, settings, kver, { network: session.global.buildNetwork, ...signalOf(session) });
        await unloadModules(session.ctx, settings, kver);
        await loadModules(session.ctx, settings, kver);
      });
    }, { cancellable: true }));
}
