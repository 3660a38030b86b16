// The Kernel Module Management operator's Module (kmm.sigs.x-k8s.io/v1beta1) for an instance. Pure.
import type { KubeSettings } from '../config/kube-settings.js';
import type { KernelImage } from './kernel-images.js';
import { ARCH_LABEL } from './names.js';
import { UsageError } from '../errors.js';
import { imageInRepo, withoutTag } from '../images/names.js';

// Where KMM's worker finds the modules in the image: <dirName>/lib/modules/<kernel>.
export const KMM_DIR_NAME = '/opt';

// KMM's template for the node's kernel release in an image reference.
export const KERNEL_FULL_VERSION = '${KERNEL_FULL_VERSION}';

// What a Module is made from.
export interface ModuleInput {
  readonly name: string;
  readonly namespace: string;
  // KMOD_NAMES, in load order.
  readonly modules: readonly string[];
  readonly kube: KubeSettings;
  readonly images: readonly KernelImage[];
  readonly repo: string | undefined;
  // Kubernetes' name of the architecture the images are built for.
  readonly arch: string;
  // Further node labels the Module's selector requires.
  readonly nodeSelector?: Readonly<Record<string, string>>;
  // In-cluster signing (Secure Boot nodes): the Secrets, by name, that hold the key and certificate.
  readonly sign?: SignSecrets;
}

// The Secrets KMM signs with: their names only (KMM reads the keys `key` and `cert` of each); the
// key itself never appears in a manifest kvc prints.
export interface SignSecrets {
  readonly keySecret: string;
  readonly certSecret: string;
}

// What KMM signs: every module of the image, under its kernel's folder.
export const SIGNED_TAG_SUFFIX = '-signed';

// KMM's sign section of a mapping: it pulls unsignedImage, signs filesToSign with the Secrets'
// key, and pushes the result as the mapping's containerImage.
export interface SignSection {
  readonly unsignedImage: string;
  readonly keySecret: { readonly name: string };
  readonly certSecret: { readonly name: string };
  readonly filesToSign: readonly string[];
}

// A kernel mapping: one kernel (literal) or a family of them (regexp), and its image.
export type KernelMapping = ({ literal: string } | { regexp: string }) & { containerImage: string; sign?: SignSection };

// KMM's modprobe settings from KMOD_NAMES. KMM loads moduleName and, when modulesLoadingOrder is set,
// turns that list into soft dependencies: each entry is loaded after the ones that follow it, the first
// (which must be moduleName) last, and unloaded in the list's order. So moduleName is the last module of
// KMOD_NAMES and the order is KMOD_NAMES reversed; a single module needs no order (KMM wants two or more).
export function modprobeSpec(modules: readonly string[]): { moduleName: string; dirName: string; modulesLoadingOrder?: string[] } {
  const order = [...modules].reverse();
  const moduleName = order[0] ?? '';
  return order.length >= 2 ? { moduleName, dirName: KMM_DIR_NAME, modulesLoadingOrder: order } : { moduleName, dirName: KMM_DIR_NAME };
}

// A literal mapping per kernel with an image (its tag as kvc made it: a release with "+" or "~" is
// escaped, which ${KERNEL_FULL_VERSION} would not do), then a regexp mapping for the kernels a build serves.
// With signing, each mapping's image is KMM's to sign: it becomes the sign section's unsignedImage,
// and the signed image KMM pushes is the same name with SIGNED_TAG_SUFFIX on its tag.
export function kernelMappings(input: Pick<ModuleInput, 'images' | 'repo' | 'kube' | 'sign'>, templateImage: string): KernelMapping[] {
  const mappings: KernelMapping[] = input.images.map(({ kver, image }) => signed({ literal: kver, containerImage: imageInRepo(image, input.repo) }, kver, input.sign));
  if (input.kube.kernelRegexp !== undefined) mappings.push(signed({ regexp: input.kube.kernelRegexp, containerImage: templateImage }, KERNEL_FULL_VERSION, input.sign));
  return mappings;
}

// A mapping as KMM signs it (or unchanged without Secrets). `kernel`: the folder under
// /opt/lib/modules (the release, or KMM's template).
function signed(mapping: KernelMapping, kernel: string, sign: SignSecrets | undefined): KernelMapping {
  if (sign === undefined) return mapping;
  const tag = mapping.containerImage.slice(mapping.containerImage.lastIndexOf(':') + 1);
  if (tag !== KERNEL_FULL_VERSION && tag.length + SIGNED_TAG_SUFFIX.length > 128) {
    throw new UsageError(`the signed image's tag ${tag}${SIGNED_TAG_SUFFIX} would pass 128 characters`, { hint: 'a shorter kernel release, or no --sign-key-secret for it' });
  }
  return {
    ...mapping,
    containerImage: `${mapping.containerImage}${SIGNED_TAG_SUFFIX}`,
    sign: {
      unsignedImage: mapping.containerImage,
      keySecret: { name: sign.keySecret },
      certSecret: { name: sign.certSecret },
      filesToSign: [`${KMM_DIR_NAME}/lib/modules/${kernel}/extra/*.ko`],
    },
  };
}

// The image reference with KMM's kernel template as its tag, from any of the instance's image names.
export function templateImageFor(localImage: string, repo: string | undefined): string {
  return `${withoutTag(imageInRepo(localImage, repo))}:${KERNEL_FULL_VERSION}`;
}

// The Module: modprobe settings, kernel mappings, in-tree modules to remove, the node selector.
// `localImage` names any image of the instance (its repository part is used for the template).
export function renderModule(input: ModuleInput, localImage: string): Record<string, unknown> {
  const container: Record<string, unknown> = {
    modprobe: modprobeSpec(input.modules),
    kernelMappings: kernelMappings(input, templateImageFor(localImage, input.repo)),
  };
  if (input.kube.inTreeToRemove.length > 0) container['inTreeModulesToRemove'] = [...input.kube.inTreeToRemove];
  return {
    apiVersion: 'kmm.sigs.x-k8s.io/v1beta1',
    kind: 'Module',
    metadata: { name: input.name, namespace: input.namespace, labels: { 'app.kubernetes.io/managed-by': 'kvc' } },
    spec: {
      moduleLoader: { container },
      selector: { [ARCH_LABEL]: input.arch, ...input.nodeSelector },
    },
  };
}
