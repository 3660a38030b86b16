// Carries out the plan: one pass at a time, each under the instance lock, building the first
// kernel the plan names (then planning again) and pruning what it says. Passes run at start, when
// the watcher or rpm-ostree reports a kernel, when a failed build is due again, and on a slow timer.
import { forgetToolRun } from '../ops/tool-run-record.js';
import { BuildFailedError, KernelRefusedError, describeError } from '../errors.js';
import type { InstanceSettings } from '../config/settings.js';
import { hostWrites, keyLocations, type Context } from '../ops/context.js';
import { withInstanceLock } from '../ops/lock.js';
import { wantedIdentity } from '../config/build-args.js';
import { keyForBuild } from '../signing/build-key.js';
import { signerOf } from '../signing/signer.js';
import { installedKernels, moduleRoots } from '../kernel/installed.js';
import { bootDefaultKernel, readBootFiles } from '../kernel/boot-default.js';
import { UnattendedBuildRefusedError } from '../ops/unattended-sources.js';
import { plan, staleness, type ImageOfKernel, type KernelPlan, type Plan } from '../images/plan.js';
import { imageName } from '../images/names.js';
import { IMAGE_LABEL, imagesOfKernels } from '../images/labels.js';

// How the reconciler builds and how often it looks again.
export interface ReconcilerOptions {
  readonly ctx: Context;
  readonly settings: InstanceSettings;
  readonly keep: number;
  // Builds one kernel's image (buildImage; a recording fake in unit tests), stopping on the signal.
  readonly build: (kver: string, ctx: Context, signal: AbortSignal) => Promise<unknown>;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  // The safety net: a pass at least this often even when nothing reported a change.
  readonly intervalMs: number;
  // A kernel directory written to less than this long ago is not built yet (still installing).
  readonly settleMs: number;
  // The service's lifetime: aborted on SIGTERM; a running build and a lock wait stop with it.
  readonly signal: AbortSignal;
  // rpm-ostree's staged kernel, as last reported.
  readonly staged: () => string | undefined;
  // Holds off a shutdown while a kernel that is not the running one is built (a logind inhibitor).
  readonly inhibit?: (why: string) => { release(): void } | undefined;
  readonly onChange?: () => void;
}

// A failed build, remembered until it succeeds or its kernel goes.
export interface Failure {
  readonly reason: string;
  readonly attempt: number;
  readonly retryAt: number;
}

// What the reconciler is doing, for STATUS= and `kvc status`.
export interface ReconcileState {
  readonly building: { readonly kver: string; readonly since: number } | undefined;
  readonly queued: readonly string[];
  readonly failed: ReadonlyMap<string, Failure>;
  readonly refused: ReadonlyMap<string, string>;
  readonly kernels: readonly KernelPlan[];
  readonly nextBoot: string | undefined;
}

// The service's reconciler: re-plans on every request (a kernel or boot file changed, the slow timer), builds what the plan asks one at a time, prunes, retries failures with back-off, and publishes its state.
export class Reconciler {
  private readonly options: ReconcilerOptions;
  private readonly failed = new Map<string, Failure>();
  private readonly refused = new Map<string, string>();
  private readonly removedKernels = new Set<string>();
  // Kernels an event named: the next pass says what it found for them (up to date, or a build).
  private readonly reported = new Set<string>();
  private building: { kver: string; since: number; controller: AbortController } | undefined;
  private lastPlan: Plan | undefined;
  // The next boot's kernel as the last pass found it: a change is said in the journal.
  private lastNextBoot: string | undefined;
  private dirty = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: ReconcilerOptions) {
    this.options = options;
  }

  // Asks for a pass (coalesced with one under way). A kernel named by an event is given a fresh
  // start: its refusal and back-off are forgotten (a reinstalled kernel may have changed).
  request(why: string, kver?: string): void {
    if (this.closed) return;
    if (kver !== undefined) {
      this.failed.delete(kver);
      this.refused.delete(kver);
      this.removedKernels.delete(kver);
      this.reported.add(kver);
    }
    this.options.ctx.logger.verbose(`reconcile: ${why}`);
    this.dirty = true;
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      this.schedule();
    });
  }

  // A kernel went away: a build for it stops, and a pass prunes its image.
  removed(kver: string): void {
    this.failed.delete(kver);
    this.refused.delete(kver);
    this.removedKernels.add(kver);
    if (this.building?.kver === kver) this.building.controller.abort(new Error(`kernel ${kver} was removed`));
    this.request(`kernel ${kver} was removed`);
  }

  state(): ReconcileState {
    const queued = (this.lastPlan?.build ?? []).filter((kver) => kver !== this.building?.kver);
    return {
      building: this.building === undefined ? undefined : { kver: this.building.kver, since: this.building.since },
      queued,
      failed: new Map(this.failed),
      refused: new Map(this.refused),
      kernels: this.lastPlan?.kernels ?? [],
      nextBoot: this.lastPlan?.nextBoot,
    };
  }

  // Resolves when no pass is running or asked for.
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  // Stops: no new pass; the one under way ends when its build sees the aborted lifetime.
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.building?.controller.abort(new Error('the service is stopping'));
    await this.running;
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.closed && !this.options.signal.aborted) {
      this.dirty = false;
      try {
        await this.pass();
      } catch (error) {
        if (this.options.signal.aborted) return;
        this.options.ctx.logger.warn(`reconciling: ${describeError(error)}; trying again later`);
      }
    }
  }

  // One pass: plan, prune, build the first kernel the plan names (the next pass plans again).
  private async pass(): Promise<void> {
    const { ctx, settings } = this.options;
    const now = Date.now();
    const images = await this.images();
    // The key the builds sign with (kvc's own created when the kernel refuses unsigned modules):
    // a key change makes every image of the instance out of date.
    const key = await keyForBuild({ configured: ctx.signingKey, locations: keyLocations(ctx), hostRoot: ctx.hostRoot, logger: ctx.logger, host: hostWrites(ctx) });
    const signer = key === undefined ? undefined : signerOf(key.certificate);
    const next = plan({
      running: ctx.runningKernel,
      installed: installedKernels(moduleRoots(ctx.hostRoot), now - this.options.settleMs),
      staged: this.options.staged(),
      bootDefault: bootDefaultKernel(readBootFiles(ctx.hostRoot)),
      version: settings.softwareVersion,
      buildArgs: wantedIdentity(settings),
      signer,
      keep: this.options.keep,
    }, images, { refused: this.refused, retryAt: new Map([...this.failed].map(([kver, failure]) => [kver, failure.retryAt])), removed: this.removedKernels }, now);
    this.lastPlan = next;
    this.changed();
    if (this.lastNextBoot !== undefined && next.nextBoot !== this.lastNextBoot) {
      ctx.logger.info(`the next boot's kernel is now ${next.nextBoot} (was ${this.lastNextBoot})`);
      this.reported.add(next.nextBoot);
    }
    this.lastNextBoot = next.nextBoot;
    this.tellReported(next);
    if (next.prune.length > 0) await this.prune(next.prune);
    const kver = next.build[0];
    if (kver === undefined) return;
    const stale = images.find((image) => image.kver === kver && image.version === settings.softwareVersion);
    await this.build(kver, kver === next.nextBoot && kver !== ctx.runningKernel, stale === undefined ? undefined : staleness(stale, { buildArgs: wantedIdentity(settings), signer }));
    this.dirty = true;
  }

  // A kernel an event named whose image is already there: say so once (a build says so itself).
  // One not complete or still being written is kept for a later pass, which a later event asks for.
  private tellReported(next: Plan): void {
    for (const kernel of next.kernels) {
      if (!this.reported.has(kernel.kver) || !(kernel.installed || kernel.running)) continue;
      this.reported.delete(kernel.kver);
      if (kernel.action !== 'ready') continue;
      const image = imageName(this.options.settings, kernel.kver);
      this.options.ctx.logger.info(`kernel ${kernel.kver}${kernel.nextBoot ? ' (next boot)' : ''}: its image ${image} is up to date; nothing to build`);
    }
  }

  private async images(): Promise<ImageOfKernel[]> {
    const { ctx, settings } = this.options;
    return imagesOfKernels(settings, await ctx.runtime.imagesWithLabel(IMAGE_LABEL.instance, settings.name));
  }

  private async prune(refs: readonly string[]): Promise<void> {
    const { ctx, settings } = this.options;
    await withInstanceLock({ ...ctx, signal: this.options.signal }, settings.name, `kvc service ${settings.name} (prune)`, { wait: true }, async () => {
      const pruned: string[] = [];
      for (const ref of refs) {
        await ctx.runtime.removeImage(ref).then(() => pruned.push(ref), (error: unknown) => ctx.logger.warn(`could not remove ${ref}: ${describeError(error)}`));
        await forgetToolRun(ctx, settings.name, ref);
      }
      if (pruned.length > 0) ctx.logger.info(`pruned ${pruned.join(', ')}`);
    });
  }

  // `stale`: why the kernel's image there is not right (built with other build args), if it is there.
  private async build(kver: string, nextBoot: boolean, stale: string | undefined): Promise<void> {
    const { ctx, settings } = this.options;
    const controller = new AbortController();
    const signal = AbortSignal.any([this.options.signal, controller.signal]);
    this.building = { kver, since: Date.now(), controller };
    this.changed();
    ctx.logger.info(`${kver === ctx.runningKernel ? 'running' : nextBoot ? 'next boot\'s' : 'installed'} kernel ${kver} ${stale === undefined ? 'has no image' : `has an image, but ${stale}`}: building it${nextBoot ? ' first' : ''}`);
    // A reboot now would boot a kernel without its modules: hold it off, with the reason.
    const inhibitor = kver === ctx.runningKernel ? undefined : this.options.inhibit?.(`building ${settings.name} modules for ${kver}`);
    try {
      await withInstanceLock({ ...ctx, signal }, settings.name, `kvc service ${settings.name} (build ${kver})`, { wait: true }, () =>
        this.options.build(kver, { ...ctx, signal }, signal));
      this.failed.delete(kver);
    } catch (error) {
      if (signal.aborted) {
        ctx.logger.info(`build for ${kver} stopped: ${describeError(signal.reason)}`);
        return;
      }
      // A kernel that cannot take the modules will not change its mind: say so once, no retry.
      if (error instanceof KernelRefusedError || error instanceof UnattendedBuildRefusedError) {
        ctx.logger.warn(`${error.message}; not building for it`);
        this.refused.set(kver, error.message);
        return;
      }
      const attempt = (this.failed.get(kver)?.attempt ?? 0) + 1;
      const delay = Math.min(this.options.retryBaseMs * 2 ** (attempt - 1), this.options.retryMaxMs);
      // One line: the step that failed and where its log is (the log has the rest).
      const reason = error instanceof BuildFailedError ? `${error.summary}${error.log === undefined ? '' : `; log: ${error.log}`}` : describeError(error);
      this.failed.set(kver, { reason, attempt, retryAt: Date.now() + delay });
      ctx.logger.error(`building the image for ${kver} failed (attempt ${attempt}): ${reason}; retrying in ${Math.round(delay / 1000)} s`);
    } finally {
      inhibitor?.release();
      this.building = undefined;
      this.changed();
    }
  }

  // The next pass: when a failed build is due again, else after the interval.
  private schedule(): void {
    if (this.closed || this.options.signal.aborted) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const retry = Math.min(...[...this.failed.values()].map((failure) => failure.retryAt));
    const periodic = Date.now() + this.options.intervalMs;
    const why = retry < periodic ? 'a failed build is due again' : 'periodic check';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.request(why);
    }, Math.max(0, Math.min(retry, periodic) - Date.now()));
  }

  private changed(): void {
    this.options.onChange?.();
  }
}
