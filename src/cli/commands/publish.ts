// `kvc publish <name> [kver…]`
import type { Command } from 'commander';
import { withInstanceLock } from '../../ops/lock.js';
import { publish } from '../../ops/publish.js';
import { installedKernels, moduleRoots } from '../../kernel/installed.js';
import { checkKernelRelease } from '../../kernel/release.js';
import { UsageError } from '../../errors.js';
import { signalOf, withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// The command's help, as data.
export const PUBLISH_HELP: CommandHelp = {
  summary: 'build and push signed images for kernels, for the nodes of a fleet to pull',
  description:
    'The builder\'s side of many hosts (docs/many-hosts.md). For each kernel (default: every kernel installed here, in /lib/modules) builds the image, or reuses the local one when it is up to date, '
    + 'and pushes it to KVC_IMAGE_REPO/<name>-<version>:<tag> signed with KVC_IMAGE_SIGN_KEY: a GPG key\'s fingerprint (podman push --sign-by, the signature written into the folder KVC_IMAGE_SIGNATURES=file:///DIR) '
    + 'or a sigstore private key (podman push --sign-by-sigstore-private-key, the signature in the registry). '
    + 'Prints each pushed image as <image>@<digest> and records it in /var/lib/kvc/<name>/published/<kver>.json; an image already pushed there is not pushed again, and kvc says so. '
    + 'Nodes with the same KVC_IMAGE_REPO and the public key as KVC_IMAGE_VERIFY_KEY then pull instead of building.',
  examples: ['kvc publish usbip', 'kvc publish usbip 6.1.0-56-amd64 6.12.117+deb12-amd64'],
};

// Adds `kvc publish` to the program.
export function registerPublish(program: Command, outcome: Outcome): void {
  describeCommand(program.command('publish'), PUBLISH_HELP)
    .argument('<name>', 'instance name (reads <config-dir>/<name>.conf)')
    .argument('[kver...]', 'kernel releases, as `uname -r` prints them (default: every kernel installed here)')
    .option('--no-wait', 'exit at once (75) when another kvc is working on this instance, instead of waiting')
    .action(withSession(outcome, async (session, name: string, given: string[], options: { wait: boolean }) => {
      const settings = await session.instance(name);
      const kernels = given.length > 0 ? given.map(checkKernelRelease) : installedKernels(moduleRoots(session.ctx.hostRoot));
      if (kernels.length === 0) throw new UsageError('no kernel given, and none is installed here (/lib/modules)', { hint: `name the kernels: kvc publish ${name} KVER…` });
      const results = await withInstanceLock(session.ctx, name, `kvc publish ${name}`, { wait: options.wait }, () =>
        publish(session.ctx, settings, kernels, { network: session.global.buildNetwork, ...signalOf(session) }));
      for (const result of results) process.stdout.write(`${result.destination}@${result.digest}${result.pushed ? '' : ' (already published, nothing pushed)'}\n`);
    }, { cancellable: true }));
}
