// The labels kvc puts on the images it builds and reads back from them: one writer (imageLabels),
// one reader (readImageLabels), and the instance's images as the plan sees them (imagesOfKernels).
import { canonicalBuildArgs, identityFromLabels } from '../config/build-args.js';
import type { InstanceSettings } from '../config/settings.js';
import type { ImageInfo } from '../runtime/parse.js';
import { imageName } from './names.js';
import type { ImageOfKernel } from './plan.js';

// The label keys of kvc's images.
export const IMAGE_LABEL = {
  instance: 'io.kvc.instance',
  kernel: 'io.kvc.kernel',
  version: 'io.kvc.version',
  // The instance's KVC_BUILD_ARGS the image was built with, canonical (sorted NAME=VALUE pairs).
  buildArgs: 'io.kvc.build-args',
  // The digest of the local build context it was built from (src/config/recipe.ts).
  recipe: 'io.kvc.recipe',
  // The key the modules were signed with (src/signing/signer.ts: key id, serial, subject); absent or empty: unsigned.
  signer: 'io.kvc.signer',
} as const;

// What kvc reads from an image's labels.
export interface ImageLabels {
  readonly instance: string;
  readonly kernel: string;
  // KMOD_SOFTWARE_VERSION; '' when the label is missing.
  readonly version: string;
  // The build args and recipe digest as one string (build-args.ts's identityFromLabels).
  readonly buildIdentity: string;
  // The signer label as written (signer.ts parses it); undefined when absent.
  readonly signer: string | undefined;
}

// The labels of the image of `settings` for kernel `kver`. `signer` is signer.ts's label ('' when
// unsigned: the label is always set, so that a step cached from a signed build cannot pass its
// signer on to an unsigned image).
export function imageLabels(settings: InstanceSettings, kver: string, signer: string): Record<string, string> {
  return {
    [IMAGE_LABEL.instance]: settings.name,
    [IMAGE_LABEL.kernel]: kver,
    [IMAGE_LABEL.version]: settings.softwareVersion,
    [IMAGE_LABEL.buildArgs]: canonicalBuildArgs(settings.buildArgs),
    ...(settings.context.kind === 'dir' ? { [IMAGE_LABEL.recipe]: settings.context.recipe } : {}),
    [IMAGE_LABEL.signer]: signer,
  };
}

// An image's labels as kvc reads them; undefined when they do not name an instance and a kernel
// (not an image kvc built).
export function readImageLabels(labels: Readonly<Record<string, string>>): ImageLabels | undefined {
  const instance = labels[IMAGE_LABEL.instance];
  const kernel = labels[IMAGE_LABEL.kernel];
  if (instance === undefined || instance === '' || kernel === undefined || kernel === '') return undefined;
  return {
    instance,
    kernel,
    version: labels[IMAGE_LABEL.version] ?? '',
    buildIdentity: identityFromLabels(labels[IMAGE_LABEL.buildArgs], labels[IMAGE_LABEL.recipe]),
    signer: labels[IMAGE_LABEL.signer],
  };
}

// The instance's images as the plan sees them, one entry per name (or per ID when unnamed). An
// image of a kernel that lacks the name kvc gives it now (an older kvc's tag: "+" was "_" before
// tags were one to one) is not that kernel's image for kvc load: it counts as of another version,
// so the kernel's image is built again and then this one pruned.
export function imagesOfKernels(settings: InstanceSettings, listed: readonly ImageInfo[]): ImageOfKernel[] {
  return listed.flatMap((image) => {
    const labels = readImageLabels(image.labels);
    if (labels === undefined) return [];
    const refs = image.names.length > 0 ? image.names : [image.id];
    const version = image.names.length > 0 && !image.names.includes(imageName(settings, labels.kernel)) ? '' : labels.version;
    const signer = labels.signer === undefined ? {} : { signer: labels.signer };
    return refs.map((ref) => ({ kver: labels.kernel, version, buildArgs: labels.buildIdentity, ...signer, ref }));
  });
}
