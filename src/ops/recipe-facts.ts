// Gathers on the host what decides a kernel's recipe (kernel/abi/recipe-plan.ts): its headers
// tree, its config (in the order of config-search.ts), its installed modules (whose __versions
// give the CRCs), and a RANDSTRUCT config without its seed. The kernel's source is looked up by the
// header-less build itself in the distribution's package sources, so it is named, not checked.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { firstConfig } from '../kernel/abi/config-search.js';
import { configRandomisesLayout } from '../kernel/abi/abi-check.js';
import { moduleFiles } from '../kernel/abi/host-abi.js';
import { planRecipe, type RecipeFacts, type RecipePlan } from '../kernel/abi/recipe-plan.js';
import { findKernelConfig } from '../kernel/kernel-config.js';
import type { Context } from './context.js';

// The kernel source and config an instance's .conf names (KVC_KERNEL_SOURCE, KVC_KERNEL_CONFIG),
// with the instance's name.
export interface NamedKernelInputs {
  readonly instance: string;
  readonly source?: string | undefined;
  readonly config?: string | undefined;
}

// The facts for kver (`explicitConfig`: --kernel-config FILE, when given; `named`: what an
// instance's .conf names, which the service's builds use).
export async function gatherRecipeFacts(ctx: Context, kver: string, explicitConfig?: string, named?: NamedKernelInputs): Promise<RecipeFacts> {
  const running = kver === ctx.runningKernel;
  const build = join(ctx.hostRoot, 'lib/modules', kver, 'build');
  const configBy = explicitConfig === undefined && named?.config !== undefined ? `KVC_KERNEL_CONFIG in ${named.instance}.conf` : undefined;
  const config = firstConfig({ kver, running, root: ctx.hostRoot, explicit: explicitConfig ?? named?.config, explicitBy: configBy }, existsSync);
  const namedSource = named?.source === undefined ? undefined : { path: named.source, by: `KVC_KERNEL_SOURCE in ${named.instance}.conf`, present: existsSync(named.source) };
  const modules = (await moduleFiles(join(ctx.hostRoot, 'lib/modules', kver, 'kernel'))).length;
  const symvers = join(build, 'Module.symvers');
  const options = (await findKernelConfig(kver, running, ctx.hostRoot))?.options;
  const seed = ['scripts/basic/randstruct.seed', 'scripts/gcc-plugins/randomize_layout_seed.h'].some((file) => existsSync(join(build, file)));
  const series = /^(\d+\.\d+)/.exec(kver)?.[1] ?? kver;
  return {
    kver,
    headers: existsSync(build) ? `${build} on this host` : undefined,
    config,
    source: namedSource !== undefined ? (namedSource.present ? `${namedSource.path} (${namedSource.by})` : undefined) : `linux-source-${series} of the kernel package's version (the build looks it up in the package sources)`,
    crcs: existsSync(symvers) ? symvers : modules > 0 ? `the __versions and exported-symbol tables of the ${modules} modules in ${join(ctx.hostRoot, 'lib/modules', kver, 'kernel')}` : undefined,
    randstructWithoutSeed: options !== undefined && configRandomisesLayout(options) && !seed,
    ...(namedSource === undefined ? {} : { namedSource }),
  };
}

// The plan for kver as kvc check and status show it (`named`: the instance's KVC_KERNEL_SOURCE /
// KVC_KERNEL_CONFIG, when its .conf names either).
export async function recipePlanFor(ctx: Context, kver: string, named?: NamedKernelInputs): Promise<RecipePlan> {
  return planRecipe(await gatherRecipeFacts(ctx, kver, undefined, named));
}

// What an instance's settings name of its kernel's inputs, or undefined when they name nothing.
export function namedKernelInputs(instance: string, inputs: { readonly source?: string | undefined; readonly config?: string | undefined }): NamedKernelInputs | undefined {
  return inputs.source === undefined && inputs.config === undefined ? undefined : { instance, source: inputs.source, config: inputs.config };
}
