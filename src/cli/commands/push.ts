// `kvc push <name> <kver> <repo> [--tls-verify=false]`
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { checkKernelRelease } from '../../kernel/release.js';
import { pushImage } from '../../ops/push.js';
import { UsageError } from '../../errors.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';
import { checkImageRepo } from '../../images/names.js';

// The command's help, as data.
export const PUSH_HELP: CommandHelp = {
  summary: 'push the image of a kernel to a registry, for `kvc kube` manifests to point at',
  description:
    'Pushes <name>-<KMOD_SOFTWARE_VERSION>:<kver> (a tag: the release itself, or, when it has "+" or "~", "_" and the release with "_" → "__", "+" → "_p", "~" → "_t") to <repo>/<name>-<version>:<tag> '
    + 'through the container runtime, as `podman push` does (log in first with `podman login` where the registry needs it). '
    + 'Then `kvc kube module|daemonset <name> --image-repo <repo>` print manifests that pull it.',
  examples: ['kvc push usbip $(uname -r) quay.io/me/kvc', 'kvc push usbip 6.1.0-56-amd64 127.0.0.1:5000/kvc --tls-verify=false'],
};

// Adds `kvc push` to the program.
export function registerPush(program: Command, outcome: Outcome): void {
  describeCommand(program.command('push'), PUSH_HELP)
    .argument('<name>', 'instance name')
    .argument('<kver>', 'kernel release, as `uname -r` prints it')
    .argument('<repo>', 'registry and path, e.g. quay.io/me/kvc')
    .option('--tls-verify <bool>', 'verify the registry\'s TLS certificate (default true; false only for a registry you trust, e.g. on loopback)', 'true')
    .action(withSession(outcome, async (session, name: string, kver: string, repo: string, options: { tlsVerify: string }) => {
      if (options.tlsVerify !== 'true' && options.tlsVerify !== 'false') {
        throw new UsageError(`--tls-verify must be true or false, not ${JSON.stringify(options.tlsVerify)}`, { hint: 'write --tls-verify=false' });
      }
      const settings = await session.instance(checkInstanceName(name));
      const { destination, pushed } = await pushImage(session.ctx, settings, checkKernelRelease(kver), checkImageRepo(repo), { tlsVerify: options.tlsVerify === 'true' });
      if (pushed) process.stdout.write(`${destination}\n`);
    }));
}
