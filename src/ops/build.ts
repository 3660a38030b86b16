// `kvc build`: makes the image for one kernel, or skips when the one there is already right.
import { existsSync } from 'node:fs';
import { recordToolRun } from './tool-run-record.js';
import { BuildFailedError, ImageCheckError, RuntimeError } from '../errors.js';
import { BuildLog, instanceLogDir } from './build-log.js';
import type { InstanceSettings } from '../config/settings.js';
import { checkKernelRelease } from '../kernel/release.js';
import { canonicalBuildArgs } from '../config/build-args.js';
import { type Context } from './context.js';
import { assertKernelCanTake } from './kernel-check.js';
import { imageProblems } from '../images/verify.js';
import { assertContextTrusted, assertTrusted } from '../config/trust.js';
import { keyForBuild } from '../signing/build-key.js';
import { signerOf, signingInputs } from '../signing/signer.js';
import { hostWrites, keyLocations } from './context.js';
import { isWould } from '../host/effect.js';
import { pullFirst } from './pull-first.js';
import { withBuildsLock } from './lock.js';
import { imageName } from '../images/names.js';
import { imageLabels } from '../images/labels.js';
import { SOURCE_RECIPE_SUFFIX, saysNoHeadersPackage, sourceRecipeSettings } from '../config/source-recipe.js';
import { kernelInputBuild, namesKernelInputs, type KernelInputBuild, type KernelInputRequest } from './kernel-inputs.js';
import { UsageError } from '../errors.js';

// What `build` did ('dry-run': printed the commands a build runs, built nothing).
export type BuildOutcome = { readonly action: 'skipped' | 'built' | 'pulled' | 'dry-run'; readonly image: string };

// Options of one build.
export interface BuildOptions {
  readonly force?: boolean;
  // Reuse no cached build step (`kvc build --force`): packages are fetched again.
  readonly fresh?: boolean;
  readonly signal?: AbortSignal;
  readonly network?: string | undefined;
  // Build here even when KVC_IMAGE_REPO is set (kvc publish, kvc build --force).
  readonly noPull?: boolean;
  // Runs just before a local build (not before a pull): the service's check of unpinned sources.
  readonly beforeLocalBuild?: () => void;
  // The kernel's source and config the user named (--kernel-source, --kernel-config): the
  // header-less recipe builds with them (docs/kernels-without-headers.md).
  readonly kernelInputs?: KernelInputRequest | undefined;
}

// The settings whose recipe takes the user's kernel inputs: the header-less one (the instance's
// build file when it is one, else its -source sibling).
function headerlessSettings(settings: InstanceSettings): InstanceSettings {
  if (settings.context.kind === 'dir' && settings.context.file.endsWith(SOURCE_RECIPE_SUFFIX)) return settings;
  const sibling = sourceRecipeSettings(settings);
  if (sibling === undefined) {
    throw new UsageError(`--kernel-source and --kernel-config need a header-less recipe: there is no ${settings.context.file}${SOURCE_RECIPE_SUFFIX} beside the build file of ${settings.name}`, { hint: 'write one (docs/kernels-without-headers.md), or build without them' });
  }
  return sibling;
}

// Builds <name>-<version>:<kver> to a temporary name, checks its modules, then gives it the real name:
// an image that fails its checks never replaces the one there.
export async function buildImage(ctx: Context, given: InstanceSettings, kver: string, options: BuildOptions = {}): Promise<BuildOutcome> {
  checkKernelRelease(kver);
  // The user's kernel inputs, checked before anything else (a wrong one is refused with its remedy).
  let inputs: KernelInputBuild | undefined;
  let settings = given;
  // The command line's win over the .conf's (KVC_KERNEL_SOURCE / KVC_KERNEL_CONFIG), which are
  // checked like the build context: kvc reads them as root and they decide what is built.
  const request = { source: options.kernelInputs?.source ?? given.kernelInputs?.source, config: options.kernelInputs?.config ?? given.kernelInputs?.config };
  if (namesKernelInputs(request)) {
    if (request.source !== undefined && request.source === given.kernelInputs?.source && existsSync(request.source)) assertTrusted(request.source, given.confPath, 'KVC_KERNEL_SOURCE');
    if (request.config !== undefined && request.config === given.kernelInputs?.config && existsSync(request.config)) assertTrusted(request.config, given.confPath, 'KVC_KERNEL_CONFIG');
    settings = headerlessSettings(given);
    inputs = await kernelInputBuild(ctx, kver, request);
  }
  await assertKernelCanTake(ctx, settings, kver);
  const image = imageName(settings, kver);
  // The signing key (created now when the kernel refuses unsigned modules and there is none): a
  // change of key makes the image out of date.
  const key = await keyForBuild({ configured: ctx.signingKey, locations: keyLocations(ctx), hostRoot: ctx.hostRoot, logger: ctx.logger, host: hostWrites(ctx) });
  const signer = key === undefined ? undefined : signerOf(key.certificate);
  const existing = await ctx.runtime.inspectImage(image);
  if (existing !== undefined && options.force !== true) {
    const problems = await imageProblems(ctx.runtime, settings, image, kver, existing.labels, signer);
    // An image the header-less recipe built (no headers package for kver) is as good.
    const fromSource = sourceRecipeSettings(settings);
    if (problems.length === 0 || (fromSource !== undefined && (await imageProblems(ctx.runtime, fromSource, image, kver, existing.labels, signer)).length === 0)) {
      ctx.logger.info(`${image} is up to date for ${kver}; nothing to build`);
      await recordToolRun(ctx, settings, kver);
      return { action: 'skipped', image };
    }
    ctx.logger.info(`rebuilding ${image}: ${problems.join('; ')}`);
  }
  // KVC_IMAGE_REPO: a verified pull instead of the build.
  if (options.noPull !== true && (await pullFirst(ctx, settings, kver)) === 'pulled') {
    if (existing !== undefined) await removeIfUnnamed(ctx, existing.id);
    await recordToolRun(ctx, settings, kver);
    return { action: 'pulled', image };
  }

  options.beforeLocalBuild?.();
  // Checked again now, as the build starts (the service builds days after reading its config).
  if (settings.context.kind === 'dir') {
    assertContextTrusted(settings.context.path, settings.confPath);
    assertTrusted(settings.context.file, settings.confPath, 'KMOD_CONTAINER_BUILD_FILE');
  }
  const pending = `${image}.kvc-pending-${process.pid}`;
  const context = settings.context.kind === 'dir' ? settings.context.path : settings.context.url;
  const extra = canonicalBuildArgs(settings.buildArgs);
  const signing = signingInputs(key);
  const what = `${image} for kernel ${kver} from ${settings.context.file}${extra === '' ? '' : ` with build args ${extra}`}${signer === undefined ? '' : `, its modules signed by ${signer.subject} (key id ${signer.keyId})`}`;
  const started = Date.now();
  // The log and the word that the build started come with its first line of output: a build that
  // did not run (a dry run's) has neither.
  let log: BuildLog | undefined;
  const print = progressPrinter(ctx);
  let headerless: InstanceSettings | undefined;
  let would = false;
  try {
    const effect = await withBuildsLock(ctx, (aloneNow) => ctx.runtime.build({
      tag: pending,
      file: settings.context.file,
      context,
      // The instance's own first: kvc's KVER and KMODVER (which settings refuse there) and
      // KVC_SIGNER are last.
      buildArgs: { ...settings.buildArgs, ...inputs?.buildArgs, KVER: kver, KMODVER: settings.softwareVersion, ...signing.buildArgs },
      labels: imageLabels(settings, kver, signing.signerLabel),
      network: options.network,
      noCache: options.fresh === true,
      secrets: [...signing.secrets, ...inputs?.secrets ?? []],
      volumes: inputs?.volumes ?? [],
    }, (line) => {
      if (log === undefined) {
        ctx.logger.info(`building ${what}`);
        log = new BuildLog(instanceLogDir(ctx.logDir, settings.name), kver);
      }
      log.write(line);
      print(line);
    }, { signal: options.signal, aloneNow })).catch((error: unknown) => {
      throw buildFailure(error, image, log ?? new BuildLog(undefined, kver));
    });
    if (isWould(effect)) {
      // A dry run: the build command was printed; the checks and the naming would follow it.
      ctx.logger.info(`dry run: would build ${what} with the command above`);
      ctx.logger.info(`dry run: nothing was built (a build also checks the new image's modules before naming it ${image})`);
      would = true;
      return { action: 'dry-run', image };
    }
    const built = await ctx.runtime.inspectImage(pending);
    const problems = await imageProblems(ctx.runtime, settings, pending, kver, built?.labels ?? {}, signer);
    if (problems.length > 0) {
      throw new ImageCheckError(`the image built for ${kver} is not usable: ${problems.join('; ')}`, {
        hint: `check ${settings.context.file} and KMOD_NAMES / KMOD_SOFTWARE_VERSION in ${settings.confPath}`,
      });
    }
    await ctx.runtime.tag(pending, image);
  } catch (error) {
    // Interrupted: say so (exit 130), not that the runtime failed.
    if (options.signal?.aborted === true && options.signal.reason instanceof Error) throw options.signal.reason;
    // No headers package for kver: the header-less recipe beside the Containerfile, if there is one.
    headerless = error instanceof BuildFailedError && saysNoHeadersPackage(error.message) ? sourceRecipeSettings(settings) : undefined;
    if (headerless === undefined) throw error;
  } finally {
    log?.close();
    if (log?.lost !== undefined) ctx.logger.warn(`build log: ${log.lost}; the build went on without it (free space in ${ctx.logDir ?? 'the log folder'})`);
    if (!would) await ctx.runtime.removeImage(pending).catch((error: unknown) => ctx.logger.warn(`could not remove ${pending}: ${String(error)}`));
  }
  if (headerless !== undefined) {
    ctx.logger.info(`no headers package for ${kver}: building from the kernel's source with ${headerless.context.file} (docs/kernels-without-headers.md)`);
    return buildImage(ctx, headerless, kver, { ...options, force: true });
  }
  if (existing !== undefined) await removeIfUnnamed(ctx, existing.id);
  await recordToolRun(ctx, settings, kver);
  const logPath = (log as BuildLog | undefined)?.path;
  ctx.logger.info(`built ${image} in ${((Date.now() - started) / 1000).toFixed(0)} s${logPath === undefined ? '' : `; log: ${logPath}`}`);
  return { action: 'built', image };
}

// A failed build says which step failed and shows its last lines (the compiler's own error), and
// where the whole log is. A full disk keeps the runtime's own error: its cause is what to act on.
function buildFailure(error: unknown, image: string, log: BuildLog): unknown {
  if (!(error instanceof RuntimeError) || error.childExitCode === undefined || /no space left/.test(error.message)) return error;
  const { step, lines } = log.failedStep();
  return new BuildFailedError(`building ${image} failed${step === '' ? '' : ` at ${step}`}`, lines, log.path, {
    hint: log.path === undefined ? error.hint : `the whole log is ${log.path}`,
    cause: error,
  });
}

// Removes the image an older build left without a name.
async function removeIfUnnamed(ctx: Context, id: string): Promise<void> {
  const [old] = await ctx.runtime.inspectImages([id]);
  if (old !== undefined && old.names.length === 0) {
    await ctx.runtime.removeImage(id).catch((error: unknown) => ctx.logger.verbose(`old image ${id.slice(0, 12)} kept: ${String(error)}`));
  }
}

// On a TTY the build's own output scrolls by; otherwise (the journal) only its STEP lines are logged.
function progressPrinter(ctx: Context): (line: string) => void {
  if (ctx.interactive) return (line) => process.stderr.write(`  ${line}\n`);
  return (line) => {
    if (/^(\[\d+\/\d+\] )?STEP \d+\/\d+:|^#\d+ \[/.test(line)) ctx.logger.info(`build: ${line.slice(0, 160)}`);
    else ctx.logger.debug(`build: ${line}`);
  };
}
