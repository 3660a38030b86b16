// `kvc kube module <name> [--image-repo REPO] [--output yaml|json]`
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { ImageMissingError } from '../../errors.js';
import { kernelImages } from '../../kube/kernel-images.js';
import { renderModule } from '../../kube/module.js';
import { kubeArch } from '../../kube/names.js';
import { formatManifests } from '../../kube/output.js';
import { imageTagFor } from '../../kernel/release.js';
import { imageName } from '../../ops/context.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';
import { addKubeOptions, kubeOptionsFrom, type RawKubeOptions } from './kube-options.js';

// The command's help, as data.
export const KUBE_MODULE_HELP: CommandHelp = {
  summary: 'print a Kernel Module Management Module for the instance',
  description:
    'Prints a KMM Module (kmm.sigs.x-k8s.io/v1beta1): modprobe of KMOD_NAMES (moduleName its last, modulesLoadingOrder '
    + 'the list reversed, as KMM wants it; dirName /opt), a literal kernel mapping for each kernel this host has an image '
    + 'for, a regexp mapping to <repo>/<name>-<version>:${KERNEL_FULL_VERSION} for the kernels KVC_KUBE_KERNEL_REGEXP of '
    + '<name>.conf names, inTreeModulesToRemove from KVC_KUBE_IN_TREE_REMOVE, and a node selector on the architecture. '
    + 'A release with "+" or "~" (e.g. 6.12.117+deb12-amd64) is tagged _6.12.117_pdeb12-amd64 (see Image tags in the README) and gets a literal mapping only: '
    + '${KERNEL_FULL_VERSION} would put the "+" into the tag.',
  examples: ['kvc push usbip 6.1.0-56-amd64 quay.io/me/kvc', 'kvc kube module usbip --image-repo quay.io/me/kvc | kubectl apply -f -'],
};

export function registerKubeModule(kube: Command, outcome: Outcome): void {
  addKubeOptions(describeCommand(kube.command('module'), KUBE_MODULE_HELP).argument('<name>', 'instance name'))
    .action(withSession(outcome, async (session, name: string, raw: RawKubeOptions) => {
      const options = kubeOptionsFrom(raw);
      const settings = await session.instance(checkInstanceName(name));
      const images = await kernelImages(session.ctx, settings);
      if (images.length === 0 && settings.kube.kernelRegexp === undefined) {
        throw new ImageMissingError(`${name} has no image on this host and ${settings.confPath} no KVC_KUBE_KERNEL_REGEXP: the Module would map no kernel`, {
          hint: `build one first (kvc build ${name} <kver>, then kvc push ${name} <kver> REPO), or set KVC_KUBE_KERNEL_REGEXP`,
        });
      }
      if (options.repo === undefined) session.logger.warn('no --image-repo: the Module names the local images (localhost/…), which a cluster cannot pull; push them with kvc push and give --image-repo');
      for (const { kver } of images) {
        if (imageTagFor(kver) !== kver) session.logger.info(`${kver}: a literal mapping to the tag ${imageTagFor(kver)} (\${KERNEL_FULL_VERSION} would keep the "${kver.replace(/[^+~]/g, '')[0]}", which a tag cannot hold)`);
      }
      const module = renderModule({
        name: settings.name, namespace: options.namespace, modules: settings.modules, kube: settings.kube, images,
        repo: options.repo, arch: kubeArch(process.arch), nodeSelector: options.nodeSelector,
      }, imageName(settings, 'any'));
      process.stdout.write(formatManifests([module], options.format));
    }, { dryRun: 'ignore' }));
}
