// Which kernels an instance has an image for, read from the runtime's images labelled for it (as
// `kvc status` reads them): the input of the manifests.
import type { InstanceSettings } from '../config/settings.js';
import type { Context } from '../ops/context.js';
import { imageName } from '../images/names.js';
import { IMAGE_LABEL, readImageLabels } from '../images/labels.js';

// One kernel and the local name of its image (localhost/<name>-<version>:<tag>).
export interface KernelImage {
  readonly kver: string;
  readonly image: string;
}

// The instance's images of its current KMOD_SOFTWARE_VERSION, one per kernel, sorted by kernel.
export async function kernelImages(ctx: Context, settings: InstanceSettings): Promise<KernelImage[]> {
  const listed = await ctx.runtime.imagesWithLabel(IMAGE_LABEL.instance, settings.name);
  const found = new Map<string, KernelImage>();
  for (const info of listed) {
    const kver = readImageLabels(info.labels)?.kernel;
    if (kver === undefined) continue;
    const image = imageName(settings, kver);
    if (info.names.includes(image)) found.set(kver, { kver, image });
  }
  return [...found.values()].sort((a, b) => a.kver.localeCompare(b.kver, undefined, { numeric: true }));
}
