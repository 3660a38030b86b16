// `kvc build <name> [kver] [--force]`
import type { Command } from 'commander';
import { buildImage } from '../../ops/build.js';
import { withInstanceLock } from '../../ops/lock.js';
import { kernelOf, signalOf, withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// The command's help, as data.
export const BUILD_HELP: CommandHelp = {
  summary: 'build the module image for a kernel (default: the running one)',
  description:
    'Builds image <name>-<KMOD_SOFTWARE_VERSION>:<kver> from the instance\'s Containerfile, with build args KVER, KMODVER and the .conf\'s KVC_BUILD_ARGS; <kver> defaults to the running kernel (uname -r). '
    + 'Skipped when that image exists, was built with the KVC_BUILD_ARGS the .conf has now, and every module of KMOD_NAMES in it has vermagic <kver> (and the configured version). '
    + 'A new image is checked under a temporary name and only then replaces the old one. '
    + 'With KVC_IMAGE_REPO set, kvc first pulls the image from there and takes it only when its signature and checks pass, building here when that fails and KVC_BUILD_FALLBACK allows (docs/many-hosts.md); --force always builds here. '
    + 'With --dry-run it prints the container commands a build would run and builds nothing. '
    + 'A kernel with no headers package is built from its source by the instance\'s header-less recipe (Containerfile.*-source): for a kernel that is not the distribution\'s, name its source with --kernel-source (a tarball or an unpacked folder of exactly that version) and, when the host has none of /proc/config.gz (running kernel), /boot/config-<kver>, /lib/modules/<kver>/config, its config with --kernel-config; '
    + 'the symbol CRCs come from the kernel\'s modules in /lib/modules/<kver>. A config that disagrees with the one the host has, or a source of another version, is refused, naming the option or the version (docs/kernels-without-headers.md).',
  examples: ['kvc build usbip', 'kvc build usbip 6.12.117+deb12-amd64', 'kvc build usbip --force', 'kvc build usbip 6.6.87-custom --kernel-source ~/linux-6.6.87.tar.xz --kernel-config ~/linux-6.6.87/.config'],
};

// Adds `kvc build` to the program.
export function registerBuild(program: Command, outcome: Outcome): void {
  describeCommand(program.command('build'), BUILD_HELP)
    .argument('<name>', 'instance name (reads <config-dir>/<name>.conf)')
    .argument('[kver]', 'kernel release, as `uname -r` prints it (default: the running kernel)')
    .option('-f, --force', 'rebuild from scratch here even when the image is up to date (no cached step is reused, nothing is pulled)')
    .option('--kernel-source <path>', 'build from this kernel source (a linux-*.tar.xz/.gz tarball, or an unpacked folder) of exactly <kver>\'s version, with the header-less recipe')
    .option('--kernel-config <file>', '<kver>\'s exact .config, used when the host has none (/proc/config.gz, /boot/config-<kver>, /lib/modules/<kver>/config); one that disagrees with the host\'s is refused')
    .option('--no-wait', 'exit at once (75) when another kvc is working on this instance, instead of waiting')
    .action(withSession(outcome, async (session, name: string, given: string | undefined, options: { force?: boolean; wait: boolean; kernelSource?: string; kernelConfig?: string }) => {
      const settings = await session.instance(name);
      const kver = kernelOf(session, given);
      await withInstanceLock(session.ctx, name, `kvc build ${name} ${kver}`, { wait: options.wait }, () =>
        buildImage(session.ctx, settings, kver, { force: options.force === true, fresh: options.force === true, noPull: options.force === true, network: session.global.buildNetwork, kernelInputs: { source: options.kernelSource, config: options.kernelConfig }, ...signalOf(session) }));
    }, { cancellable: true }));
}
