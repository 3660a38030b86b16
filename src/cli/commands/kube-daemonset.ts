// `kvc kube daemonset <name> [--kernel KVER] [--image-repo REPO] [--output yaml|json]`
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { ImageMissingError, UsageError } from '../../errors.js';
import { renderDaemonSet } from '../../kube/daemonset.js';
import { kernelImages } from '../../kube/kernel-images.js';
import { kubeArch, nfdKernelLabelValue } from '../../kube/names.js';
import { formatManifests } from '../../kube/output.js';
import { checkKernelRelease } from '../../kernel/release.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';
import { addKubeOptions, kubeOptionsFrom, type RawKubeOptions } from './kube-options.js';
import { imageInRepo } from '../../images/names.js';

// The command's help, as data.
export const KUBE_DAEMONSET_HELP: CommandHelp = {
  summary: 'print DaemonSets that load the instance\'s modules, for clusters without KMM',
  description:
    'Prints one DaemonSet (apps/v1) per kernel this host has an image for (or only --kernel): its pods run only on nodes '
    + 'whose Node Feature Discovery label feature.node.kubernetes.io/kernel-version.full is that kernel (and of this '
    + 'architecture), tolerating every taint. An init container loads KMOD_NAMES with the image\'s modprobe; the container '
    + '"modules" waits and, on SIGTERM (pod deleted), runs the image\'s pre-unload hook and unloads them in reverse order; '
    + 'both have CAP_SYS_MODULE only, not privileged mode. An instance with KVC_HOST_TOOLS gets a container "tools" with no '
    + 'capabilities for `kubectl exec`; what it gets of the node is KVC_KUBE_TOOLS_ACCESS of <name>.conf. Read-only root '
    + 'filesystems, no service account token.',
  examples: ['kvc kube daemonset usbip --image-repo quay.io/me/kvc | kubectl apply -f -', 'kubectl exec -n kvc ds/kvc-usbip-6-1-0-56-amd64 -c tools -- usbip list -l'],
};

// Adds `kvc kube daemonset` to `kvc kube`.
export function registerKubeDaemonSet(kube: Command, outcome: Outcome): void {
  addKubeOptions(describeCommand(kube.command('daemonset'), KUBE_DAEMONSET_HELP).argument('<name>', 'instance name'))
    .option('--kernel <kver>', 'only the DaemonSet of this kernel')
    .action(withSession(outcome, async (session, name: string, raw: RawKubeOptions & { kernel?: string }) => {
      const options = kubeOptionsFrom(raw);
      const only = raw.kernel === undefined ? undefined : checkKernelRelease(raw.kernel);
      const settings = await session.instance(checkInstanceName(name));
      const images = (await kernelImages(session.ctx, settings)).filter((image) => only === undefined || image.kver === only);
      if (images.length === 0) {
        throw new ImageMissingError(only === undefined ? `${name} has no image on this host` : `there is no image of ${name} for ${only}`, {
          hint: `build it first: kvc build ${name} ${only ?? '<kver>'} (then kvc push ${name} ${only ?? '<kver>'} REPO for a cluster)`,
        });
      }
      if (options.repo === undefined) session.logger.warn('no --image-repo: the pods name the local images (localhost/…), which only `podman kube play` on this host finds; push them with kvc push and give --image-repo');
      const objects = images.map(({ kver, image }) => {
        const kernelLabel = nfdKernelLabelValue(kver);
        if (kernelLabel === undefined) throw new UsageError(`${kver} is longer than a node label value may be (63), so Node Feature Discovery cannot label its nodes`, { hint: 'select those nodes with a label of your own (--node-selector) and use kvc kube module with KMM instead' });
        const daemonSet = renderDaemonSet({
          name: settings.name, namespace: options.namespace, modules: settings.modules, inTreeToRemove: settings.kube.inTreeToRemove,
          tools: settings.kube.tools, hasTools: settings.hostTools.length > 0, kver, kernelLabel, image: imageInRepo(image, options.repo), arch: kubeArch(process.arch),
        });
        const spec = (daemonSet['spec'] as { template: { spec: { nodeSelector: Record<string, string> } } }).template.spec;
        Object.assign(spec.nodeSelector, options.nodeSelector);
        return daemonSet;
      });
      process.stdout.write(formatManifests(objects, options.format, { list: true }));
    }, { dryRun: 'ignore' }));
}
