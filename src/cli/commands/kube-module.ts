// `kvc kube module <name> [--image-repo REPO] [--output yaml|json]`
import type { Command } from 'commander';
import { checkInstanceName } from '../../config/load.js';
import { ImageMissingError, UsageError } from '../../errors.js';
import { kernelImages } from '../../kube/kernel-images.js';
import { renderModule, type SignSecrets } from '../../kube/module.js';
import { kubeArch } from '../../kube/names.js';
import { formatManifests } from '../../kube/output.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';
import { addKubeOptions, kubeOptionsFrom, type RawKubeOptions } from './kube-options.js';
import { imageTagFor, imageName } from '../../images/names.js';

// The command's help, as data.
export const KUBE_MODULE_HELP: CommandHelp = {
  summary: 'print a Kernel Module Management Module for the instance',
  description:
    'Prints a KMM Module (kmm.sigs.x-k8s.io/v1beta1): modprobe of KMOD_NAMES (moduleName its last, modulesLoadingOrder '
    + 'the list reversed, as KMM wants it; dirName /opt), a literal kernel mapping for each kernel this host has an image '
    + 'for, a regexp mapping to <repo>/<name>-<version>:${KERNEL_FULL_VERSION} for the kernels KVC_KUBE_KERNEL_REGEXP of '
    + '<name>.conf names, inTreeModulesToRemove from KVC_KUBE_IN_TREE_REMOVE, and a node selector on the architecture. '
    + 'A release with "+" or "~" (e.g. 6.12.117+deb12-amd64) is tagged _6.12.117_pdeb12-amd64 (see Image tags in docs/kubernetes.md) and gets a literal mapping only: '
    + '${KERNEL_FULL_VERSION} would put the "+" into the tag. '
    + 'For Secure Boot nodes, --sign-key-secret and --sign-cert-secret name the Secrets (keys "key" and "cert") that KMM signs the modules with in the cluster: '
    + 'each mapping then gets a sign section (its image as unsignedImage, /opt/lib/modules/<kernel>/extra/*.ko to sign) and KMM pushes the signed image under the same name with "-signed" on its tag. '
    + 'The key is referenced by name only, never written into the manifest.',
  examples: ['kvc push usbip 6.1.0-56-amd64 quay.io/me/kvc', 'kvc kube module usbip --image-repo quay.io/me/kvc | kubectl apply -f -',
    'kubectl -n kvc create secret generic kvc-signing-key --from-file=key=/var/lib/kvc/keys/signing-key.pem',
    'kubectl -n kvc create secret generic kvc-signing-cert --from-file=cert=/var/lib/kvc/keys/signing-cert.der',
    'kvc kube module usbip --image-repo quay.io/me/kvc --sign-key-secret kvc-signing-key --sign-cert-secret kvc-signing-cert'],
};

// Adds `kvc kube module` to `kvc kube`.
export function registerKubeModule(kube: Command, outcome: Outcome): void {
  addKubeOptions(describeCommand(kube.command('module'), KUBE_MODULE_HELP).argument('<name>', 'instance name'))
    .option('--sign-key-secret <secret>', 'the Secret holding the module signing key (its key "key"): KMM signs the modules in the cluster')
    .option('--sign-cert-secret <secret>', 'the Secret holding its certificate (its key "cert"); give both or neither')
    .action(withSession(outcome, async (session, name: string, raw: RawKubeOptions & { signKeySecret?: string; signCertSecret?: string }) => {
      const options = kubeOptionsFrom(raw);
      const sign = signSecretsFrom(raw.signKeySecret, raw.signCertSecret);
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
        repo: options.repo, arch: kubeArch(process.arch), nodeSelector: options.nodeSelector, ...(sign === undefined ? {} : { sign }),
      }, imageName(settings, 'any'));
      process.stdout.write(formatManifests([module], options.format));
    }, { dryRun: 'ignore' }));
}

// The Secrets named for in-cluster signing: both or neither, each a Kubernetes object name.
function signSecretsFrom(keySecret: string | undefined, certSecret: string | undefined): SignSecrets | undefined {
  if (keySecret === undefined && certSecret === undefined) return undefined;
  if (keySecret === undefined || certSecret === undefined) {
    throw new UsageError('--sign-key-secret and --sign-cert-secret go together', { hint: 'name both Secrets: the key\'s and the certificate\'s' });
  }
  for (const [option, value] of [['--sign-key-secret', keySecret], ['--sign-cert-secret', certSecret]] as const) {
    if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(value)) throw new UsageError(`${option} ${JSON.stringify(value)} is not a Secret name`, { hint: 'lower-case letters, digits, "-" and ".", e.g. kvc-signing-key' });
  }
  return { keySecret, certSecret };
}
