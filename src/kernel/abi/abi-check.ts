// May these modules load, as far as their ABI goes? Each module's vermagic must equal the
// kernel's byte for byte, and each symbol it imports must carry the CRC the kernel exports it
// with; a RANDSTRUCT kernel needs modules built with its own seed. Pure: the image's modules and
// what kvc learned of the kernel (host-abi.ts) come in as data.
import { formatCrc } from './module-abi.js';
import { vermagicDifference } from './vermagic.js';

// One of the image's modules, as its vermagic and __versions say.
export interface ImageModuleAbi {
  readonly name: string;
  readonly vermagic: string | undefined;
  readonly versions: ReadonlyMap<string, number>;
}

// A CRC the kernel is known to export a symbol with, and where kvc learned it.
export interface KnownCrc {
  readonly crc: number;
  readonly from: string;
}

// What kvc learned of the target kernel.
export interface TargetAbi {
  readonly kver: string;
  // The vermagic of the kernel's own modules, and which module it was read from.
  readonly vermagic: { readonly value: string; readonly from: string } | undefined;
  readonly crcs: ReadonlyMap<string, KnownCrc>;
  // The kernel's config sets CONFIG_RANDSTRUCT_FULL/_PERFORMANCE (or the older GCC plugin).
  readonly randstruct: boolean;
  // Symbols the image's own modules export (they are checked against each other by modpost).
  readonly imageExports: ReadonlySet<string>;
}

// The verdict.
export type AbiVerdict =
  | { readonly kind: 'load'; readonly checked: number; readonly unchecked: readonly string[] }
  | { readonly kind: 'refuse'; readonly module: string; readonly symbol: string | undefined; readonly message: string; readonly hint: string };

// Checks every module; the first mismatch refuses, naming the module and the symbol.
export function checkAbi(modules: readonly ImageModuleAbi[], target: TargetAbi, rebuild: string): AbiVerdict {
  let checked = 0;
  const unchecked = new Set<string>();
  for (const module of modules) {
    if (target.randstruct && (target.vermagic === undefined || !/\bRANDSTRUCT/.test(module.vermagic ?? ''))) {
      return {
        kind: 'refuse', module: module.name, symbol: undefined,
        message: `kernel ${target.kver} lays out its structures with a secret seed (CONFIG_RANDSTRUCT) and ${module.name} ${target.vermagic === undefined ? 'cannot be shown to be built with it (no module of the kernel says its vermagic)' : 'was built without it'}`,
        hint: `modules for a RANDSTRUCT kernel can only be built in the kernel's own build tree (its scripts/basic/randstruct.seed): install the kernel's headers package of that build, then ${rebuild}`,
      };
    }
    if (target.vermagic !== undefined) {
      const difference = vermagicDifference(target.vermagic.value, module.vermagic ?? '');
      if (difference !== undefined) {
        return {
          kind: 'refuse', module: module.name, symbol: undefined,
          message: `${module.name}'s vermagic "${module.vermagic ?? ''}" is not the kernel's "${target.vermagic.value}" (read from ${target.vermagic.from}): ${difference}`,
          hint: `rebuild the image for this exact kernel: ${rebuild}`,
        };
      }
    }
    for (const [symbol, crc] of module.versions) {
      if (target.imageExports.has(symbol)) continue;
      const known = target.crcs.get(symbol);
      if (known === undefined) {
        unchecked.add(symbol);
        continue;
      }
      checked += 1;
      if (known.crc !== crc) {
        return {
          kind: 'refuse', module: module.name, symbol,
          message: `${module.name} disagrees with kernel ${target.kver} about the version of symbol ${symbol}: it was built with CRC ${formatCrc(crc)}, the kernel exports ${formatCrc(known.crc)} (learned from ${known.from})`,
          hint: `the module was built against another kernel build or config; rebuild it for this exact kernel: ${rebuild}`,
        };
      }
    }
  }
  return { kind: 'load', checked, unchecked: [...unchecked].sort() };
}

// The config options that turn on structure layout randomisation.
export const RANDSTRUCT_OPTIONS = ['CONFIG_RANDSTRUCT_FULL', 'CONFIG_RANDSTRUCT_PERFORMANCE', 'CONFIG_GCC_PLUGIN_RANDSTRUCT', 'CONFIG_RANDSTRUCT'] as const;

// Whether a parsed kernel config randomises structure layout.
export function configRandomisesLayout(options: ReadonlyMap<string, string>): boolean {
  return RANDSTRUCT_OPTIONS.some((option) => options.get(option) === 'y');
}
