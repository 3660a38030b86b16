// The header-less recipe beside an instance's Containerfile (issue 21): for Containerfile.debian,
// Containerfile.debian-source, which builds from the kernel's source and config when the
// distribution has no headers package for the kernel. kvc falls back to it when the headers build
// says so (a line "no linux-headers-<kver> in the apt sources").
import { statSync } from 'node:fs';
import { recipeDigest } from './recipe.js';
import type { InstanceSettings } from './settings.js';

// The suffix that names a build file's header-less sibling.
export const SOURCE_RECIPE_SUFFIX = '-source';

// The header-less sibling of a local build file, when it exists and is not itself one.
export function sourceRecipeFile(buildFile: string): string | undefined {
  if (buildFile.endsWith(SOURCE_RECIPE_SUFFIX)) return undefined;
  const sibling = `${buildFile}${SOURCE_RECIPE_SUFFIX}`;
  try {
    return statSync(sibling).isFile() ? sibling : undefined;
  } catch {
    return undefined;
  }
}

// The instance's settings with its header-less sibling as the build file (and that file's recipe
// digest), or undefined when it has none (a URL context, or no such file).
export function sourceRecipeSettings(settings: InstanceSettings): InstanceSettings | undefined {
  if (settings.context.kind !== 'dir') return undefined;
  const file = sourceRecipeFile(settings.context.file);
  if (file === undefined) return undefined;
  return { ...settings, context: { ...settings.context, file, recipe: recipeDigest(settings.context.path, file) } };
}

// Whether a failed build's words say the distribution has no headers package for the kernel: the
// recipe's own line, naming a release (it starts with a digit). The runtime's error repeats the
// failed step's script, where the same words stand with `${KVER}`: any failure of that step (a
// runtime error, a compiler error) must not look like a missing headers package.
export function saysNoHeadersPackage(text: string): boolean {
  return /no linux-headers-\d[^\s$"'{}]* in the apt sources/.test(text);
}
