// Removes images of kernels that are gone, keeps the running kernel's and the newest N, and removes
// the instance's dangling images.
import type { InstanceSettings } from '../config/settings.js';
import { LABEL } from '../runtime/args.js';
import type { Context } from '../ops/context.js';

// Which kernels' images to remove: `removed` ones (their directory went away) and, past the running
// kernel's, all but the newest `keep`. Pure, for tests.
export function kernelsToPrune(kernels: readonly string[], running: string, keep: number, removed: ReadonlySet<string>): string[] {
  const others = kernels.filter((kver) => kver !== running);
  const gone = others.filter((kver) => removed.has(kver));
  const remaining = others.filter((kver) => !removed.has(kver))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  return [...gone, ...remaining.slice(keep)];
}

// Prunes the instance's images; returns the image names removed.
export async function pruneImages(ctx: Context, settings: InstanceSettings, keep: number, removed: ReadonlySet<string>): Promise<string[]> {
  const images = await ctx.runtime.imagesWithLabel(LABEL.instance, settings.name);
  const byKernel = new Map<string, string[]>();
  for (const image of images) {
    const kver = image.labels[LABEL.kernel];
    if (kver === undefined) continue;
    byKernel.set(kver, [...(byKernel.get(kver) ?? []), ...(image.names.length > 0 ? image.names : [image.id])]);
  }
  const pruned: string[] = [];
  for (const kver of kernelsToPrune([...byKernel.keys()], ctx.runningKernel, keep, removed)) {
    for (const ref of byKernel.get(kver) ?? []) {
      await ctx.runtime.removeImage(ref).then(() => pruned.push(ref), (error: unknown) => ctx.logger.warn(`could not remove ${ref}: ${error instanceof Error ? error.message : String(error)}`));
    }
  }
  for (const dangling of await ctx.runtime.imagesWithLabel(LABEL.instance, settings.name, true)) {
    await ctx.runtime.removeImage(dangling.id).then(() => pruned.push(dangling.id.slice(0, 12)), () => undefined);
  }
  if (pruned.length > 0) ctx.logger.info(`pruned ${pruned.join(', ')}`);
  return pruned;
}
