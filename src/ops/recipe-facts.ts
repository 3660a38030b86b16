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

// The facts for kver (`explicitConfig`: --kernel-config FILE, when given).
export async function gatherRecipeFacts(ctx: Context, kver: string, explicitConfig?: string): Promise<RecipeFacts> {
  const running = kver === ctx.runningKernel;
  const build = join(ctx.hostRoot, 'lib/modules', kver, 'build');
  const config = firstConfig({ kver, running, root: ctx.hostRoot, explicit: explicitConfig }, existsSync);
  const modules = (await moduleFiles(join(ctx.hostRoot, 'lib/modules', kver, 'kernel'))).length;
  const symvers = join(build, 'Module.symvers');
  const options = (await findKernelConfig(kver, running, ctx.hostRoot))?.options;
  const seed = ['scripts/basic/randstruct.seed', 'scripts/gcc-plugins/randomize_layout_seed.h'].some((file) => existsSync(join(build, file)));
  const series = /^(\d+\.\d+)/.exec(kver)?.[1] ?? kver;
  return {
    kver,
    headers: existsSync(build) ? `${build} on this host` : undefined,
    config,
    source: `linux-source-${series} of the kernel package's version (the build looks it up in the package sources)`,
    crcs: existsSync(symvers) ? symvers : modules > 0 ? `the __versions of the ${modules} modules in ${join(ctx.hostRoot, 'lib/modules', kver, 'kernel')}` : undefined,
    randstructWithoutSeed: options !== undefined && configRandomisesLayout(options) && !seed,
  };
}

// The plan for kver as kvc check and status show it.
export async function recipePlanFor(ctx: Context, kver: string): Promise<RecipePlan> {
  return planRecipe(await gatherRecipeFacts(ctx, kver));
}
