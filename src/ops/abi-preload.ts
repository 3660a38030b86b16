// Refuses, before the kernel is touched, image modules whose ABI the kernel would reject (or,
// worse, accept with a wrong layout): reads each module's vermagic and __versions in the image
// (one probe container), what the kernel exports on the host (kernel/abi/host-abi.ts), and lets
// kernel/abi/abi-check.ts decide. Runs for every build, with headers or without.
import { KernelRefusedError } from '../errors.js';
import { parseDumpModversions } from '../kernel/abi/module-abi.js';
import { checkAbi, configRandomisesLayout, type ImageModuleAbi } from '../kernel/abi/abi-check.js';
import { readHostExports } from '../kernel/abi/host-abi.js';
import { findKernelConfig } from '../kernel/kernel-config.js';
import { parseTailSections } from './image-modules.js';
import { lastSaid } from '../runtime/parse.js';
import type { Context } from './context.js';

// What the probe container runs: for each module of the image's tree, its vermagic and its
// __versions (kmod's own readers), then the symbols the image's modules export (depmod's list).
export const READ_ABI_SCRIPT = [
  'tree=$1',
  'while IFS=: read -r path rest; do case $path in /*) ;; ?*) path="$tree/$path" ;; *) continue ;; esac',
  '  echo "==> vermagic $path <=="; modinfo -F vermagic -- "$path" || exit',
  '  echo "==> versions $path <=="; modprobe --dump-modversions -- "$path" || true',
  '  echo "==> depends $path <=="; modinfo -F depends -- "$path" | tr "," "\\n"',
  'done <"$tree/modules.dep"',
  'echo "==> symbols <=="; cat -- "$tree/modules.symbols" 2>/dev/null || true',
].join('\n');

// The image's modules and exports from the probe's output. Pure.
export function parseAbiProbe(stdout: string): { modules: ImageModuleAbi[]; exports: Set<string>; depends: Set<string> } {
  const sections = parseTailSections(stdout);
  const modules: ImageModuleAbi[] = [];
  for (const [header, text] of sections) {
    const found = /^vermagic (.+)$/.exec(header);
    if (found === null) continue;
    const path = found[1] as string;
    const vermagic = text.replace(/\n+$/, '');
    modules.push({ name: (path.split('/').pop() ?? path).replace(/\.ko(\..*)?$/, ''), vermagic: vermagic === '' ? undefined : vermagic, versions: parseDumpModversions(sections.get(`versions ${path}`) ?? '') });
  }
  const depends = new Set([...sections].filter(([header]) => header.startsWith('depends ')).flatMap(([, text]) => text.split('\n').map((name) => name.trim()).filter((name) => name !== '')));
  for (const module of modules) depends.delete(module.name);
  const exports = new Set<string>();
  for (const line of (sections.get('symbols') ?? '').split('\n')) {
    const found = /^alias symbol:(\S+) /.exec(line);
    if (found !== null) exports.add(found[1] as string);
  }
  return { modules, exports, depends };
}

// Throws KernelRefusedError, naming the module and symbol, when an image module's ABI is not the
// kernel's; logs how many imports were checked and how many kvc could not learn.
export async function assertAbiMatches(ctx: Context, settings: { readonly name: string }, image: string, kver: string): Promise<void> {
  const result = await ctx.runtime.probe(image, ['/bin/sh', '-c', READ_ABI_SCRIPT, 'kvc-read-abi', `/lib/modules/${kver}`]);
  if (result.exitCode !== 0) {
    throw new KernelRefusedError(`cannot read the vermagic and symbol versions of ${image}'s modules (exit ${result.exitCode}: ${lastSaid(result.stderr)}); nothing was loaded`, {
      hint: `the image must hold kmod and depmod's files under /lib/modules/${kver}; rebuild it: kvc build ${settings.name} ${kver} --force`,
    });
  }
  const image_ = parseAbiProbe(result.stdout);
  const wanted = new Set(image_.modules.flatMap((module) => [...module.versions.keys()]).filter((symbol) => !image_.exports.has(symbol)));
  const host = await readHostExports(ctx.hostRoot, kver, kver === ctx.runningKernel, wanted, { near: [...image_.depends] });
  const config = await findKernelConfig(kver, kver === ctx.runningKernel, ctx.hostRoot);
  const verdict = checkAbi(image_.modules, {
    kver,
    vermagic: host.vermagic,
    crcs: host.crcs,
    randstruct: config !== undefined && configRandomisesLayout(config.options),
    imageExports: image_.exports,
  }, `kvc build ${settings.name} ${kver} --force`);
  // A kernel whose modules are compressed with a tool this host lacks: what kvc could not learn is
  // said, not passed over (Debian's 6.12 kernels ship .ko.xz; xz-utils is not in a minimal install).
  if (host.missingTools.length > 0) {
    ctx.logger.warn(`ABI check: the kernel's ${host.missingTools.map((tool) => `.ko.${tool === 'zstd' ? 'zst' : tool}`).join(' and ')} modules could not be read (no ${host.missingTools.join(', ')} on PATH), so their CRCs are not known to kvc; install ${host.missingTools.map((tool) => (tool === 'xz' ? 'xz-utils' : tool)).join(' and ')} for a full check`);
  }
  if (verdict.kind === 'refuse') throw new KernelRefusedError(`kernel ${kver} would refuse ${image}'s modules: ${verdict.message}; nothing was loaded`, { hint: verdict.hint });
  ctx.logger.info(`ABI check: ${image_.modules.length} modules, ${host.read} of the kernel's modules read, vermagic ${host.vermagic === undefined ? 'not known (no module of the kernel read)' : 'equal'}, ${verdict.checked} symbol versions equal, ${verdict.unchecked.length} not known for the kernel${verdict.unchecked.length > 0 ? ` (${verdict.unchecked.slice(0, 8).join(', ')}${verdict.unchecked.length > 8 ? ', …' : ''})` : ''}`);
}
