// The runtime's image commands: inspect and list, build (and what a build leaves behind), tag,
// remove, push. Built on CommandRunner; ContainerRuntime adds the container commands.
import { ImageNotFoundError, UsageError } from '../errors.js';
import * as argv from './args.js';
import { CommandRunner, tail } from './command-runner.js';
import type { RuntimeName } from './runtime-name.js';
import type { Effect } from '../host/effect.js';
import { dependsOnKernel, isMetadataStep, isNoSuchObject, parseIdList, parseImageInspect, type ImageInfo } from './parse.js';

// How a build runs: `signal` cancels it; `aloneNow` says whether no other build runs at the
// moment it is asked (a failed build removes what appeared while it ran only then).
export interface BuildOptions {
  readonly signal?: AbortSignal | undefined;
  readonly aloneNow?: () => Promise<boolean>;
}

// Images in the runtime's storage.
export class ImageCommands extends CommandRunner {
  // The images with these names or IDs that exist (missing ones are left out).
  async inspectImages(refs: readonly string[]): Promise<ImageInfo[]> {
    if (refs.length === 0) return [];
    const result = await this.capture(argv.imageInspectArgs(refs));
    if (result.exitCode !== 0) {
      if (!isNoSuchObject(result.stderr)) throw this.failure(argv.imageInspectArgs(refs), 'inspecting images', result.exitCode, result.stderr);
      if (refs.length === 1) return [];
      const found: ImageInfo[] = [];
      for (const ref of refs) found.push(...(await this.inspectImages([ref])));
      return found;
    }
    return parseImageInspect(result.stdout);
  }

  // One image by name, or undefined.
  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    return (await this.inspectImages([ref]))[0];
  }

  // The named images that carry label=value.
  async imagesWithLabel(label: string, value: string): Promise<ImageInfo[]> {
    const ids = parseIdList((await this.check(argv.imagesWithLabelArgs(label, value), 'listing images')).stdout);
    return this.inspectImages(ids);
  }

  // Removes what builds for `kver` left beside their images: the unnamed images of builder stages
  // that hold that kernel's headers, sources and objects (about 1 GB), walking down from each
  // unnamed leaf the builds labelled, through metadata-only steps (ARG, WORKDIR…), and stopping
  // at the first image whose steps do not depend on the kernel and hold files (the toolchain and
  // tools steps, which the next kernel's build reuses), or that has a name. One `rmi` for all of
  // them (an image another image still builds on stays, with its parents). Returns how many
  // images were removed; never throws.
  async removeBuildLeftovers(labels: Readonly<Record<string, string>>, kver: string): Promise<number> {
    const listed = await this.capture(argv.danglingImagesArgs(labels));
    const found: ImageInfo[] = [];
    const doomed: string[] = [];
    // Level by level: one `image inspect` for all the images at one depth (a build leaves a
    // dozen or more leaves that share their parents; one call each took a second and more).
    let level = listed.exitCode === 0 ? parseIdList(listed.stdout) : [];
    while (level.length > 0) {
      const infos = await this.inspectImages(level).catch(() => []);
      const next: string[] = [];
      for (const info of infos) {
        if (info.names.length > 0 || doomed.includes(info.id)) continue;
        // podman's inspect has the steps; otherwise ask `history`.
        const steps = info.steps.length > 0 ? info.steps.join('\n') : await this.capture(argv.historyArgs(info.id)).then((result) => (result.exitCode === 0 ? result.stdout : ''));
        if (!(dependsOnKernel(steps, kver) || isMetadataStep(steps))) continue;
        doomed.push(info.id);
        found.push(info);
        if (info.parent !== '' && !doomed.includes(info.parent) && !next.includes(info.parent)) next.push(info.parent);
      }
      level = next;
    }
    childrenFirst(found, doomed);
    // Named since it was looked at (a user's tag, another build's cached step): kept; podman then
    // refuses its parents too, as they still have a child.
    const named = new Set((await this.inspectImages(doomed).catch(() => [])).filter((info) => info.names.length > 0).map((info) => info.id));
    const unnamed = doomed.filter((id) => !named.has(id));
    if (unnamed.length === 0) return 0;
    const result = await this.capture(argv.removeImagesOnlyArgs(unnamed));
    const removed = result.exitCode === 0 ? unnamed.length : unnamed.length - (await this.inspectImages(unnamed).catch(() => unnamed.map(() => undefined))).length;
    if (removed > 0) this.logger.verbose(`removed ${removed} build step image${removed > 1 ? 's' : ''} of ${kver}`);
    return removed;
  }

  // Builds an image, streaming the runtime's output to `onLine`. A build that fails removes its
  // own working containers (--force-rm); one that is cancelled cannot, so kvc removes the working
  // containers (buildah's, podman only: never a running container of anyone's) that appeared
  // while it ran, if `aloneNow` says no other build runs whose containers they could be, and
  // otherwise names them in a warning. Then, whether it succeeded or not, what its builder stages
  // left for that kernel is removed.
  async build(spec: argv.BuildSpec, onLine: (line: string) => void, options: BuildOptions = {}): Promise<Effect> {
    const before = await this.workingContainerIds();
    try {
      await this.stream(argv.buildArgs(this.name, spec), `building ${spec.tag}`, onLine, options.signal === undefined ? {} : { signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted === true) await this.removeStrayWorkingContainers(before, options.aloneNow ?? (async () => true));
      throw error;
    } finally {
      const kver = spec.buildArgs['KVER'];
      if (kver !== undefined) await this.removeBuildLeftovers(spec.labels, kver);
    }
    return 'done';
  }

  // After a cancelled build: the working containers there are now and were not `before`.
  private async removeStrayWorkingContainers(before: readonly string[], aloneNow: () => Promise<boolean>): Promise<void> {
    const left = (await this.workingContainerIds().catch(() => [])).filter((id) => !before.includes(id));
    if (left.length === 0) return;
    const containers = `${left.length} working container${left.length > 1 ? 's' : ''}`;
    if (await aloneNow()) {
      this.logger.info(`removing ${containers} the build left behind`);
      await this.capture(argv.removeContainersArgs(left)).catch(() => undefined);
    } else {
      this.logger.warn(`another build runs: kept ${containers} that appeared while this one ran (some may be the other build's): ${left.join(' ')}; once no build runs, \`${this.name} rm\` of those still there removes them`);
    }
  }

  // The working containers of builds: podman's external containers (buildah's); docker's builds
  // leave none kvc could tell apart, so none.
  protected async workingContainerIds(): Promise<string[]> {
    if (this.name !== 'podman') return [];
    const all = parseIdList((await this.check(argv.allContainersArgs(this.name), 'listing containers')).stdout);
    const own = new Set(parseIdList((await this.check(argv.podmanContainersArgs(), 'listing containers')).stdout));
    return all.filter((id) => !own.has(id));
  }

  // Gives an image another name.
  async tag(source: string, target: string): Promise<Effect> {
    await this.check(argv.tagArgs(source, target), `tagging ${source} as ${target}`);
    return 'done';
  }

  // Removes an image name (the image itself when it was the last name). Missing is not an error.
  async removeImage(ref: string): Promise<Effect> {
    const result = await this.capture(argv.removeImageArgs(ref));
    if (result.exitCode !== 0 && !isNoSuchObject(result.stderr)) throw this.failure(argv.removeImageArgs(ref), `removing ${ref}`, result.exitCode, result.stderr);
    return 'done';
  }

  // Pushes a local image to a registry as `destination`; docker gets it tagged first (its push takes
  // one name), and has no switch for TLS: its daemon's insecure-registries decides.
  async push(source: string, destination: string, options: argv.PushOptions): Promise<Effect> {
    assertPushable(this.name, options);
    if (this.name === 'docker') await this.tag(source, destination);
    const args = argv.pushArgs(this.name, source, destination, options);
    const result = await this.capture(args, { long: true, env: argv.pushEnv(options) });
    if (result.exitCode === 125 && isNoSuchObject(result.stderr)) {
      throw new ImageNotFoundError(`there is no image ${source}`, { command: [this.name, ...args], childExitCode: result.exitCode, stderrTail: tail(result.stderr) });
    }
    if (result.exitCode !== 0) {
      throw this.failure(args, `pushing ${source} to ${destination}`, result.exitCode, result.stderr || result.stdout, {
        hint: /x509|certificate|http: server gave HTTP response to HTTPS client/i.test(result.stderr)
          ? 'the registry does not speak TLS kvc can verify: give it a certificate, or pass --tls-verify=false for a registry you trust (e.g. on loopback)'
          : `log in first if the registry needs it (${this.name} login REGISTRY), and check the repository name; --verbose shows the command`,
      });
    }
    return 'done';
  }

  // Pulls an image, which podman stores only if the signature policy file accepts it; the
  // refusal is thrown with podman's reason. Podman only: docker has no signature policy.
  async pull(image: string, options: { policyFile: string; tlsVerify: boolean }): Promise<Effect> {
    assertPullable(this.name);
    const args = argv.pullArgs(image, options);
    const result = await this.capture(args, { long: true });
    if (result.exitCode !== 0) throw this.failure(args, `pulling ${image}`, result.exitCode, result.stderr || result.stdout, { hint: 'see the reason above; kvc status shows it too' });
    return 'done';
  }
}

// Refuses a push the runtime cannot do as asked: docker signs nothing and has no switch for TLS
// (its daemon's insecure-registries decides). A dry run refuses it too.
export function assertPushable(name: RuntimeName, options: argv.PushOptions): void {
  if (name !== 'docker') return;
  if (options.sign !== undefined) throw new UsageError('signing a pushed image works with podman only', { hint: 'use --runtime podman for kvc publish' });
  if (!options.tlsVerify) {
    throw new UsageError('--tls-verify=false works with podman only: docker has no per-push switch for it', { hint: 'list the registry in insecure-registries of /etc/docker/daemon.json, or use --runtime podman' });
  }
}

// Refuses a verified pull with docker, which has no signature policy. A dry run refuses it too.
export function assertPullable(name: RuntimeName): void {
  if (name === 'docker') throw new UsageError('verified pulls work with podman only: docker has no signature policy', { hint: 'set KVC_CONTAINER_RUNTIME=podman, or remove KVC_IMAGE_REPO' });
}

// Orders `ids` (in place) so that no image comes before an image built on it: podman removes in
// the order given, and refuses an image that still has a child.
function childrenFirst(infos: readonly ImageInfo[], ids: string[]): void {
  const parentOf = new Map(infos.map((info) => [info.id, info.parent]));
  const left = [...ids];
  ids.length = 0;
  while (left.length > 0) {
    const index = left.findIndex((id) => !left.some((other) => parentOf.get(other) === id));
    ids.push(...left.splice(index === -1 ? 0 : index, 1));
  }
}
