// Before a build: the verified pull from KVC_IMAGE_REPO, and the fallback decision (afterPull).
import { resolveRegistry } from '../config/registry-settings.js';
import type { InstanceSettings } from '../config/settings.js';
import { PullRefusedError } from '../errors.js';
import { afterPull } from '../registry/pull-plan.js';
import { describePull, writePullRecord } from '../registry/pull-record.js';
import { imageInRepo, imageName } from '../images/names.js';
import type { Context } from './context.js';
import { pullVerified } from './pull-image.js';
import { isWould } from '../host/effect.js';

// 'pulled': the verified image has its local name; 'build': no repository, or the pull failed and
// KVC_BUILD_FALLBACK allows a build. A failed pull that may not fall back throws, with the reason.
export async function pullFirst(ctx: Context, settings: InstanceSettings, kver: string): Promise<'pulled' | 'build'> {
  const registry = ctx.registry === undefined ? undefined : resolveRegistry(ctx.registry, settings.registry ?? { repo: undefined, fallback: undefined });
  if (registry === undefined) return 'build';
  const outcome = await pullVerified(ctx, settings, kver, registry);
  // A dry run pulled nothing: it says what a run would do, then shows the build.
  if (isWould(outcome)) {
    ctx.logger.info(`dry run: would pull ${imageInRepo(imageName(settings, kver), registry.repo)} verified with ${registry.verifyKey} (the command above, a policy for ${registry.repo} only), and ${registry.fallback ? 'build here, as below, if that fails' : 'build nothing if that fails (KVC_BUILD_FALLBACK=no)'}`);
    return 'build';
  }
  const next = afterPull(outcome.accepted, registry.fallback);
  if (outcome.accepted) return 'pulled';
  const record = { ...outcome.record, fallback: next === 'build' ? 'built' as const : 'none' as const };
  await writePullRecord(ctx.stateDir ?? '/var/lib/kvc', settings.name, record);
  if (next === 'stop') {
    throw new PullRefusedError(`${settings.name}, kernel ${kver}: ${describePull(record)}`, {
      hint: 'publish a signed image for this kernel on the builder (kvc publish), check KVC_IMAGE_VERIFY_KEY, or set KVC_BUILD_FALLBACK=yes to build here',
    });
  }
  ctx.logger.warn(`building ${settings.name} for ${kver} locally (KVC_BUILD_FALLBACK=yes)`);
  return 'build';
}
