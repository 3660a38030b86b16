// What an image says about its modules: each module with what it depends on, the further modules
// it asks kvc to load, and the modules it adds to a kernel that lacks them.
import { ImageCheckError, describeError } from '../errors.js';
import { oneLine } from '../log/sanitize.js';
import { parseModinfo } from '../kmods/modinfo.js';
import { kernelModuleName } from '../kernel/module-state.js';
import type { Context } from './context.js';
import { parseModulesDep } from '../kernel/modules-dep.js';
import { lastSaid } from '../runtime/parse.js';

// Modules to load after KMOD_NAMES (the image contract; whitespace-separated, `#` comments).
export const IMAGE_LOAD_ALSO = '/usr/lib/kvc/load-also';
// Modules the image adds to a kernel that lacks them (kvc status shows them).
export const IMAGE_PROVIDES = '/usr/lib/kvc/provides';

// What one image holds.
export interface ImageModules {
  readonly graph: ReadonlyMap<string, readonly string[]>;
  readonly loadAlso: readonly string[];
  readonly provides: readonly string[];
}

// The words of a list file, `#` comments left out. Pure.
export function parseNameList(text: string): string[] {
  return text.split('\n').flatMap((line) => line.replace(/#.*/, '').trim().split(/\s+/)).filter((word) => word !== '');
}

// Splits `tail -n +1 -- FILE…` output into each file's text ("==> FILE <==" headers). Pure.
export function parseTailSections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const header = /^==> (.+) <==$/.exec(line);
    if (header !== null) {
      current = header[1] as string;
      sections.set(current, '');
    } else if (current !== undefined) sections.set(current, `${sections.get(current) ?? ''}${line}\n`);
  }
  return sections;
}

// What the probe container runs (the image's own sh, the paths as arguments): each file under a
// "==> FILE <==" header as tail prints it, then modinfo of every module modules.dep lists.
export const READ_MODULES_SCRIPT = [
  'tree=$1; shift',
  'for file in "$tree/modules.dep" "$@"; do [ -r "$file" ] || continue; echo "==> $file <=="; cat -- "$file"; done',
  'set --',
  'while IFS=: read -r path rest; do case $path in /*) set -- "$@" "$path" ;; ?*) set -- "$@" "$tree/$path" ;; esac; done <"$tree/modules.dep"',
  'echo "==> modinfo <=="',
  'if [ "$#" -gt 0 ]; then modinfo -- "$@"; fi',
].join('\n');

// Reads the image's files and its modules' modinfo in one run of a container without privileges.
export async function readImageModules(ctx: Context, image: string, kver: string): Promise<ImageModules> {
  const tree = `/lib/modules/${kver}`;
  const files = await ctx.runtime.probe(image, ['/bin/sh', '-c', READ_MODULES_SCRIPT, 'kvc-read-modules', tree, IMAGE_LOAD_ALSO, IMAGE_PROVIDES]);
  // The script's own status is modinfo's: a module it cannot read makes the plan unreliable.
  if (files.exitCode !== 0) {
    const said = lastSaid(files.stderr);
    throw new ImageCheckError(`cannot read the modules of ${image} (exit ${files.exitCode}${said === '' ? '' : `: ${said}`})`, {
      hint: 'the image must hold /bin/sh, kmod and depmod\'s files under /lib/modules/<kver>; rebuild it: kvc build <name> <kver> --force',
    });
  }
  const sections = parseTailSections(files.stdout);
  const graph = new Map<string, readonly string[]>();
  for (const [name, deps] of parseModulesDep(sections.get(`${tree}/modules.dep`) ?? '')) graph.set(name, deps);
  // modinfo's "depends" also names what the image lacks (modules.dep only what it holds).
  for (const module of parseModinfo(sections.get('modinfo') ?? '')) graph.set(kernelModuleName(module.name), [...new Set([...(graph.get(module.name) ?? []), ...module.depends.map(kernelModuleName)])]);
  return {
    graph,
    loadAlso: parseNameList(sections.get(IMAGE_LOAD_ALSO) ?? ''),
    provides: parseNameList(sections.get(IMAGE_PROVIDES) ?? ''),
  };
}

// What an image adds to a kernel that lacks it, or why that could not be read.
export type ProvidesProbe = { readonly provides: readonly string[] } | { readonly error: string };

// Reads the probe's result: the list; an image without the file provides nothing; any other
// failure (the container did not start, no `tail` in it) is an error with its reason. Pure.
export function providesFromProbe(result: { exitCode: number; stdout: string; stderr: string }): ProvidesProbe {
  if (result.exitCode === 0) return { provides: parseNameList(result.stdout) };
  const said = result.stderr.trim().split('\n').pop()?.trim() ?? '';
  if (result.exitCode === 1 && /No such file or directory/.test(said)) return { provides: [] };
  return { error: `reading ${IMAGE_PROVIDES} from the image failed (exit ${result.exitCode}${said === '' ? '' : `: ${oneLine(said)}`})` };
}

// Only the modules an image adds to a kernel (for kvc status): one run of a container. A failed
// run (the image gone meanwhile, the runtime failing) is returned as an error, not thrown and not
// taken for "nothing".
export async function readImageProvides(ctx: Context, image: string): Promise<ProvidesProbe> {
  try {
    return providesFromProbe(await ctx.runtime.probe(image, ['tail', '-n', '+1', '--', IMAGE_PROVIDES]));
  } catch (error) {
    return { error: oneLine(describeError(error)) };
  }
}
