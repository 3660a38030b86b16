// Per kernel, what `kvc status` says about an instance: which installed kernel has its image,
// which is being built, queued, failed or refused (from the running service when there is one,
// else worked out here), and whether the kernel that boots next is ready.
import type { InstanceSettings } from '../config/settings.js';
import { KernelRefusedError } from '../errors.js';
import { installedKernels, moduleRoots } from '../kernel/installed.js';
import { bootDefaultKernel, readBootFiles } from '../kernel/boot-default.js';
import type { ImageInfo } from '../runtime/parse.js';
import { wantedIdentity } from '../config/build-args.js';
import { findSigningKey } from '../signing/signing-key.js';
import { signerOf } from '../signing/signer.js';
import { plan, staleness, type KernelAction } from '../images/plan.js';
import { readServiceState } from './service-state.js';
import { instanceLogDir, latestLog } from './build-log.js';
import { keyLocations, type Context } from './context.js';
import { assertKernelCanTake } from './kernel-check.js';
import { imagesOfKernels, readImageLabels } from '../images/labels.js';

// What is known about one kernel.
// 'stale': its image was built with other KVC_BUILD_ARGS than the instance's, or signed with another
// key than kvc signs with now, or unsigned while there is a key (reason says which).
export type KernelState = 'built' | 'stale' | 'building' | 'queued' | 'failed' | 'refused' | 'missing' | 'to-prune' | 'not-kept';

// One kernel in `kvc status`: its state, its image, why, and what the service is doing about it.
export interface KernelStatus {
  readonly kver: string;
  readonly state: KernelState;
  readonly running: boolean;
  readonly nextBoot: boolean;
  readonly installed: boolean;
  readonly image: { readonly name: string; readonly size: number; readonly created: string } | null;
  readonly reason: string | null;
  readonly retryAt: string | null;
  readonly log: string | null;
  // Modules the kernel lacks that its image adds (the image's /usr/lib/kvc/provides); kvc status fills it in.
  readonly provides?: readonly string[];
  // Why the image could not be asked what it provides (kvc status then fails), if it could not.
  readonly probeError?: string;
}

// An instance's kernels in `kvc status`: each kernel, the next boot, and the warnings.
export interface KernelReport {
  readonly nextBoot: string;
  // Whether a running kvc service reported the building, queued and failed states.
  readonly fromService: boolean;
  readonly kernels: readonly KernelStatus[];
  readonly warnings: readonly string[];
}

// A kernel's state from the plan's action and what is there. Pure.
export function stateOf(action: KernelAction, hasImage: boolean, stale: boolean): KernelState {
  if (action === 'prune') return 'to-prune';
  if (hasImage) return stale ? 'stale' : 'built';
  return ({ ready: 'built', build: 'missing', wait: 'failed', refused: 'refused', skip: 'not-kept' } as const)[action];
}

// The report of one instance's kernels: each state, what boots next, and the warnings.
export async function kernelReport(ctx: Context, settings: InstanceSettings, images: readonly ImageInfo[], keep: number): Promise<KernelReport> {
  const ofKernel = (kver: string) => images.find((image) => readImageLabels(image.labels)?.kernel === kver && readImageLabels(image.labels)?.version === settings.softwareVersion);
  const staged = readServiceState(ctx, settings.name);
  // The key kvc signs with (not created here: status only reads); one it cannot read counts as none.
  const key = await findSigningKey(ctx.signingKey, keyLocations(ctx)).catch(() => undefined);
  const signer = key === undefined ? undefined : signerOf(key.certificate);
  const wanted = { buildArgs: wantedIdentity(settings), signer };
  const computed = plan({
    running: ctx.runningKernel,
    installed: installedKernels(moduleRoots(ctx.hostRoot)),
    bootDefault: bootDefaultKernel(readBootFiles(ctx.hostRoot)),
    version: settings.softwareVersion,
    ...wanted,
    keep,
  }, imagesOfKernels(settings, images), { refused: new Map(), retryAt: new Map() }, Date.now());
  const logs = instanceLogDir(ctx.logDir, settings.name);
  const kernels: KernelStatus[] = [];
  for (const kernel of computed.kernels) {
    const image = ofKernel(kernel.kver);
    const live = staged?.kernels.find((entry) => entry.kver === kernel.kver);
    const log = latestLog(logs, kernel.kver) ?? null;
    // The state says what is there: an image of this kernel and version is "built", "stale" or
    // "to-prune", never "missing" or "not built", whatever the plan does about it.
    const stale = image === undefined ? undefined : staleness(imagesOfKernels(settings, [image])[0] ?? { kver: kernel.kver, version: '', ref: '' }, wanted);
    let state: KernelState = stateOf(kernel.action, image !== undefined, stale !== undefined);
    let reason: string | null = stale === undefined || state !== 'stale' ? null : kernel.action === 'skip' ? `${stale}; not rebuilt: the kernel is not installed here` : stale;
    let retryAt: string | null = null;
    if (live !== undefined && ['building', 'queued', 'failed', 'refused'].includes(live.action) && (image === undefined || stale !== undefined)) {
      state = live.action as KernelState;
      reason = live.reason ?? null;
      retryAt = live.retryAt ?? null;
    } else if (state === 'missing') {
      // No service to ask: say now whether this kernel could take the modules at all.
      try {
        await assertKernelCanTake(ctx, settings, kernel.kver);
      } catch (error) {
        if (!(error instanceof KernelRefusedError)) throw error;
        state = 'refused';
        reason = error.message;
      }
    }
    kernels.push({
      kver: kernel.kver, state, running: kernel.running, nextBoot: kernel.nextBoot, installed: kernel.installed,
      image: image === undefined ? null : { name: image.names[0] ?? image.id.slice(0, 12), size: image.size, created: image.created },
      reason, retryAt, log,
    });
  }
  const warnings: string[] = [];
  const next = kernels.find((kernel) => kernel.nextBoot);
  if (next !== undefined && next.image === null && next.kver !== ctx.runningKernel) {
    warnings.push(`the kernel that boots next, ${next.kver}, has no ${settings.name} image (${next.state})${next.state === 'refused' ? '' : `: run \`kvc build ${settings.name} ${next.kver}\` or start kvc@${settings.name}`}`);
  }
  return { nextBoot: computed.nextBoot, fromService: staged !== undefined, kernels, warnings };
}
