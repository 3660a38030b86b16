// The podman/docker adapter: the only module that spawns the container runtime.
import { accessSync, constants } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { delimiter, dirname, join, isAbsolute } from 'node:path';
import { execa } from 'execa';
import { ImageNotFoundError, RuntimeError, UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RuntimeName } from './runtime-name.js';
import { findOnPath } from '../host/find-on-path.js';
import * as argv from './args.js';
import { dependsOnKernel, isMetadataStep, parseContainerAccess, parseContainerInspect, parseIdList, parseImageInspect, parseOciDeviceRules, isNoSuchObject, saysNoSpace, type ContainerAccess, type ContainerInfo, type ImageInfo } from './parse.js';

// What a captured command returned.
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

// How the adapter behaves: dry-run prints commands and runs none.
export interface RuntimeOptions {
  readonly logger: Logger;
  readonly dryRun?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly print?: (line: string) => void;
  // How long a short command (an inspect, a listing, a tag, a removal, a probe) may take before it
  // is stopped and counts as failed; builds, pushes, module commands and hooks have none.
  readonly queryTimeoutMs?: number;
}

// A short command's time limit: a hung `inspect` must not hold a stop past TimeoutStopSec (3 min).
const QUERY_TIMEOUT_MS = 60_000;

const STDERR_TAIL_LINES = 12;

// The runtime always runs in / (only root writes there): podman looks a relative Containerfile up
// in its working directory first, so a file where the admin stands could otherwise be built.
const RUNTIME_CWD = '/';

// Quotes an argument for display only (commands are never run through a shell).
export function displayArg(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
}

// podman's and docker's own exit status when a container could not be run at all.
const RUNTIME_FAILED = 125;

// podman or docker, driven with argument arrays; JSON for queries; errors with exit code and stderr tail.
export class ContainerRuntime {
  readonly name: RuntimeName;
  readonly dryRun: boolean;
  private readonly logger: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly print: (line: string) => void;
  private readonly queryTimeoutMs: number;
  private binary: string | undefined;

  constructor(name: RuntimeName, options: RuntimeOptions) {
    this.name = name;
    this.logger = options.logger;
    this.dryRun = options.dryRun === true;
    // podman in a Type=notify unit would take over NOTIFY_SOCKET and report readiness itself.
    const { NOTIFY_SOCKET: _notify, ...env } = options.env ?? process.env;
    // docker's legacy builder cannot read `RUN --mount=type=secret` (the signing step's): BuildKit can.
    this.env = name === 'docker' && env['DOCKER_BUILDKIT'] === undefined ? { ...env, DOCKER_BUILDKIT: '1' } : env;
    this.print = options.print ?? ((line) => process.stdout.write(`${line}\n`));
    this.queryTimeoutMs = options.queryTimeoutMs ?? QUERY_TIMEOUT_MS;
  }

  // The runtime's path; fails with what to install when it is not on PATH.
  locate(): string {
    if (this.binary !== undefined) return this.binary;
    const found = findOnPath(this.name, this.env['PATH']);
    if (found === undefined) {
      throw new RuntimeError(`${this.name} is not on PATH`, {
        command: [this.name],
        missing: true,
        hint: `install ${this.name}, or choose the other runtime with --runtime or KVC_CONTAINER_RUNTIME in kvc.conf`,
      });
    }
    this.binary = found;
    return found;
  }

  private show(args: readonly string[]): string {
    return [this.name, ...this.withGlobalFlags(args)].map(displayArg).join(' ');
  }

  // podman would log an event (create, init, start, died, remove…) to the journal for each of
  // kvc's short-lived containers, under kvc's own unit: `journalctl -u kvc@…` would read as noise.
  private withGlobalFlags(args: readonly string[]): string[] {
    return this.name === 'podman' ? ['--events-backend=none', ...args] : [...args];
  }

  // Runs a command and captures its output; a non-zero exit is returned, not thrown. A short command
  // (the default) is stopped after the query timeout and throws; `long: true` has no time limit.
  async capture(args: readonly string[], options: { signal?: AbortSignal; long?: boolean; timeoutMs?: number } = {}): Promise<CommandResult> {
    const binary = this.locate();
    if (this.dryRun) {
      this.print(this.show(args));
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    this.logger.verbose(`$ ${this.show(args)}`);
    const result = await execa(binary, this.withGlobalFlags(args), {
      env: this.env, extendEnv: false, reject: false, stdin: 'ignore', stripFinalNewline: true, cwd: RUNTIME_CWD,
      ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
      ...(options.long === true ? {} : { timeout: options.timeoutMs ?? this.queryTimeoutMs, forceKillAfterDelay: 2_000 }),
    });
    if (result.timedOut) {
      throw new RuntimeError(`${[this.name, ...args].map(displayArg).join(' ')} did not answer within ${(options.timeoutMs ?? this.queryTimeoutMs) / 1000} s; stopped it`, {
        command: [this.name, ...args],
        hint: `${this.name} may be waiting for a lock another ${this.name} process holds: look for a hung one (\`ps -ef | grep ${this.name}\`), then run again`,
      });
    }
    return { exitCode: result.exitCode ?? 128, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  }

  // Runs a command and throws a RuntimeError saying `what` failed when it exits non-zero.
  async check(args: readonly string[], what: string, options: { signal?: AbortSignal; hint?: string } = {}): Promise<CommandResult> {
    const result = await this.capture(args, options);
    if (result.exitCode !== 0) throw this.failure(args, what, result.exitCode, result.stderr || result.stdout, { hint: options.hint });
    return result;
  }

  // The error for a failed runtime command. `sawNoSpace`: a streamed command said its disk was full
  // in lines that may have scrolled out of `output` (only its tail is kept).
  private failure(args: readonly string[], what: string, exitCode: number, output: string, options: { hint?: string | undefined; sawNoSpace?: boolean } = {}): RuntimeError {
    const last = tail(output);
    const lastLine = last.split('\n').filter((line) => line.trim() !== '').pop() ?? '';
    if (options.sawNoSpace === true || saysNoSpace(output)) {
      // The last line would only say which step failed; the cause is what the user can act on.
      return new RuntimeError(`${what} failed: no space left on device (${this.name} exit ${exitCode})`, {
        command: [this.name, ...args], childExitCode: exitCode, stderrTail: last,
        hint: `free space where ${this.name} keeps images and containers (\`${this.name} system df\` shows it; \`${this.name} image prune\` removes unused images) and in /var/tmp, then run again`,
      });
    }
    return new RuntimeError(`${what} failed (${this.name} exit ${exitCode})${lastLine === '' ? '' : `: ${lastLine.trim()}`}`, {
      command: [this.name, ...args], childExitCode: exitCode, stderrTail: last,
      hint: options.hint ?? `run with --verbose to see the ${this.name} command and its output`,
    });
  }

  // The runtime's version and where it keeps images (`kvc check`); throws when it does not answer.
  async describe(): Promise<{ version: string; storage: string | undefined }> {
    const format = this.name === 'podman' ? '{{.Version.Version}}|{{.Store.GraphRoot}}' : '{{.ServerVersion}}|{{.DockerRootDir}}';
    const result = await this.check(['info', '--format', format], `asking ${this.name} about itself`);
    const [version = '', storage = ''] = result.stdout.trim().split('|');
    return { version, storage: storage === '' ? undefined : storage };
  }

  // Runs a long command, handing each output line to `onLine` as it comes; throws on failure.
  async stream(args: readonly string[], what: string, onLine: (line: string) => void, options: { signal?: AbortSignal } = {}): Promise<void> {
    const binary = this.locate();
    if (this.dryRun) {
      this.print(this.show(args));
      return;
    }
    this.logger.verbose(`$ ${this.show(args)}`);
    const recent: string[] = [];
    let noSpace = false;
    const child = execa(binary, this.withGlobalFlags(args), {
      env: this.env, extendEnv: false, reject: false, stdin: 'ignore', all: true, buffer: false, cwd: RUNTIME_CWD,
      ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    });
    for await (const line of child.iterable({ from: 'all' })) {
      const text = String(line);
      recent.push(text);
      noSpace ||= saysNoSpace(text);
      if (recent.length > STDERR_TAIL_LINES * 4) recent.shift();
      onLine(text);
    }
    const result = await child;
    if (result.isCanceled) throw new RuntimeError(`${what} was cancelled`, { command: [this.name, ...args], childExitCode: result.exitCode });
    if (result.exitCode !== 0) throw this.failure(args, what, result.exitCode ?? 128, recent.join('\n'), { sawNoSpace: noSpace });
  }

  // Runs a command with the caller's stdin, stdout and stderr; returns its exit status unchanged.
  async passthrough(args: readonly string[]): Promise<number> {
    const binary = this.locate();
    if (this.dryRun) {
      this.print(this.show(args));
      return 0;
    }
    this.logger.verbose(`$ ${this.show(args)}`);
    const result = await execa(binary, this.withGlobalFlags(args), { env: this.env, extendEnv: false, reject: false, stdio: 'inherit', cwd: RUNTIME_CWD });
    if (result.signal !== undefined) return 128 + signalNumber(result.signal);
    return result.exitCode ?? 1;
  }

  // The images with these names or IDs that exist (missing ones are left out).
  async inspectImages(refs: readonly string[]): Promise<ImageInfo[]> {
    if (refs.length === 0) return [];
    const result = await this.capture(argv.imageInspectArgs(refs));
    if (this.dryRun) return [];
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
  // tools steps, which the next kernel's build reuses), or that another image still builds on.
  // Returns how many images were removed; never throws.
  async removeBuildLeftovers(labels: Readonly<Record<string, string>>, kver: string): Promise<number> {
    if (this.dryRun) return 0;
    const listed = await this.capture(argv.danglingImagesArgs(labels));
    let removed = 0;
    for (const leaf of listed.exitCode === 0 ? parseIdList(listed.stdout) : []) {
      let id = leaf;
      while (id !== '') {
        const history = await this.capture(argv.historyArgs(id));
        if (history.exitCode !== 0 || !(dependsOnKernel(history.stdout, kver) || isMetadataStep(history.stdout))) break;
        const [info] = await this.inspectImages([id]).catch(() => []);
        if (info === undefined || info.names.length > 0) break;
        if ((await this.capture(argv.removeImageOnlyArgs(id))).exitCode !== 0) break;
        removed += 1;
        id = info.parent;
      }
    }
    if (removed > 0) this.logger.verbose(`removed ${removed} build step image${removed > 1 ? 's' : ''} of ${kver}`);
    return removed;
  }

  // Builds an image, streaming the runtime's output to `onLine`. When the build fails or is
  // cancelled, the working containers it left (buildah's, podman only) are removed.
  // Then, whether it succeeded or not, what its builder stages left for that kernel is removed.
  async build(spec: argv.BuildSpec, onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
    const before = this.dryRun ? [] : await this.containerIds();
    try {
      await this.stream(argv.buildArgs(this.name, spec), `building ${spec.tag}`, onLine, signal === undefined ? {} : { signal });
    } catch (error) {
      const left = (await this.containerIds().catch(() => [])).filter((id) => !before.includes(id));
      if (left.length > 0) {
        this.logger.info(`removing ${left.length} container${left.length > 1 ? 's' : ''} the build left behind`);
        await this.capture(argv.removeContainersArgs(left)).catch(() => undefined);
      }
      throw error;
    } finally {
      const kver = spec.buildArgs['KVER'];
      if (kver !== undefined) await this.removeBuildLeftovers(spec.labels, kver);
    }
  }

  private async containerIds(): Promise<string[]> {
    return parseIdList((await this.check(argv.allContainersArgs(this.name), 'listing containers')).stdout);
  }

  // Gives an image another name.
  async tag(source: string, target: string): Promise<void> {
    await this.check(argv.tagArgs(source, target), `tagging ${source} as ${target}`);
  }

  // Removes an image name (the image itself when it was the last name). Missing is not an error.
  async removeImage(ref: string): Promise<void> {
    const result = await this.capture(argv.removeImageArgs(ref));
    if (result.exitCode !== 0 && !isNoSuchObject(result.stderr)) throw this.failure(argv.removeImageArgs(ref), `removing ${ref}`, result.exitCode, result.stderr);
  }

  // Runs kmod in a container that may load and unload modules. The image not being there is
  // ImageNotFoundError (the runtime's own exit 125 and its "no such image"); any other failure
  // is a RuntimeError carrying the command's output.
  async runModuleCommand(image: string, command: readonly string[], what: string, volumes: readonly string[] = []): Promise<CommandResult> {
    const args = argv.moduleRunArgs(image, command, volumes);
    const result = await this.capture(args, { long: true });
    if (result.exitCode === 125 && isNoSuchObject(result.stderr)) {
      throw new ImageNotFoundError(`there is no image ${image}`, { command: [this.name, ...args], childExitCode: result.exitCode, stderrTail: tail(result.stderr) });
    }
    if (result.exitCode !== 0) throw this.failure(args, what, result.exitCode, result.stderr || result.stdout);
    return result;
  }

  // Runs a read-only command in an image (no privileges, no network); a non-zero exit is returned,
  // but the image not being there is ImageNotFoundError.
  async probe(image: string, command: readonly string[]): Promise<CommandResult> {
    const args = argv.inspectRunArgs(image, command);
    const result = await this.capture(args);
    if (result.exitCode === 125 && isNoSuchObject(result.stderr)) {
      throw new ImageNotFoundError(`there is no image ${image}`, { command: [this.name, ...args], childExitCode: result.exitCode, stderrTail: tail(result.stderr) });
    }
    return result;
  }

  // Runs a tool from the image with the caller's stdio; returns its exit status. The image is not
  // looked for first (--pull=never makes the run fail without it): only when the run fails as the
  // runtime itself fails (125) is it asked whether the image is there (ImageNotFoundError if not).
  async runTool(image: string, command: readonly string[], tty: boolean): Promise<number> {
    const status = await this.passthrough(argv.toolRunArgs(image, command, { tty }));
    if (status === RUNTIME_FAILED && !this.dryRun && (await this.inspectImage(image)) === undefined) {
      throw new ImageNotFoundError(`there is no image ${image}`, { command: [this.name, 'run', image], childExitCode: status });
    }
    return status;
  }

  // The runtime's arguments that run a tool from the image in a new container, up to and without
  // the image (global flags included), for the host command's record (ops/tool-run-record.ts).
  toolRunPrefix(image: string): string[] {
    const args = this.withGlobalFlags(argv.toolRunArgs(image, [], { tty: false }));
    return args.slice(0, args.lastIndexOf(image));
  }

  // Runs a tool in the running tools container with the caller's stdio; returns its exit status
  // (125 and up: the runtime's own failure, e.g. the container is gone).
  async execTool(containerName: string, command: readonly string[], tty: boolean): Promise<number> {
    return this.passthrough(argv.toolExecArgs(containerName, command, { tty, interactive: true }));
  }

  // Runs a tool in the running tools container and captures its output; a non-zero exit is
  // returned, no answer within timeoutMs throws a RuntimeError.
  async captureExec(containerName: string, command: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<CommandResult> {
    return this.capture(argv.toolExecArgs(containerName, command, { tty: false, interactive: false }), options);
  }

  // Runs a daemon of the image in a container of its own (argv.daemonRunArgs), its output line by
  // line to onLine, until it exits (resolves to its status) or the signal aborts (the runtime's
  // client is stopped, which stops the container; a container left behind is removed).
  runDaemon(spec: argv.DaemonSpec, onLine: (line: string) => void, signal: AbortSignal): { exited: Promise<number> } {
    const args = argv.daemonRunArgs(this.name, spec);
    if (this.dryRun) {
      this.print(this.show(args));
      return { exited: Promise.resolve(0) };
    }
    const binary = this.locate();
    this.logger.verbose(`$ ${this.show(args)}`);
    const child = execa(binary, this.withGlobalFlags(args), {
      env: this.env, extendEnv: false, reject: false, stdin: 'ignore', all: true, buffer: false, cwd: RUNTIME_CWD, cancelSignal: signal, forceKillAfterDelay: 10_000,
    });
    let rest = '';
    child.all?.on('data', (chunk: Buffer) => {
      const lines = (rest + String(chunk)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') onLine(line);
    });
    const exited = child.then(async (result) => {
      if (rest.trim() !== '') onLine(rest);
      if (result.isCanceled || result.signal !== undefined) await this.removeContainer(spec.containerName).catch(() => undefined);
      return result.exitCode ?? (result.isCanceled ? 0 : 1);
    });
    return { exited };
  }

  // Runs a command with the tools' privileges and captures its output (hooks); non-zero is returned.
  async runHook(image: string, command: readonly string[]): Promise<CommandResult> {
    return this.capture(argv.toolRunArgs(image, command, { tty: false }), { long: true });
  }

  // Starts the tools container and returns its main process ID.
  async startToolsHolder(image: string, containerName: string, instance: string): Promise<ContainerInfo> {
    // podman replaces a container of that name in the same call; docker needs it removed first.
    if (this.name === 'docker') await this.removeContainer(containerName);
    await this.check(argv.toolsHolderRunArgs(this.name, image, containerName, instance), `starting the tools container ${containerName}`);
    const info = await this.inspectContainer(containerName);
    if (info === undefined || !info.running || info.pid <= 0) {
      if (this.dryRun) return { id: '', name: containerName, pid: 0, running: false };
      throw new RuntimeError(`the tools container ${containerName} did not stay up`, { command: [this.name, 'container', 'inspect', containerName] });
    }
    return info;
  }

  // A container by its exact name, or undefined. `container inspect NAME` also takes an ID prefix:
  // what it returns counts only when its name is NAME.
  async inspectContainer(name: string): Promise<ContainerInfo | undefined> {
    const result = await this.capture(argv.containerInspectArgs(name));
    if (this.dryRun) return undefined;
    if (result.exitCode !== 0) {
      if (isNoSuchObject(result.stderr)) return undefined;
      throw this.failure(argv.containerInspectArgs(name), `inspecting ${name}`, result.exitCode, result.stderr);
    }
    return parseContainerInspect(result.stdout).find((info) => info.name === name);
  }

  // What a container may do with devices (see ContainerAccess), or undefined when there is no such
  // container. podman's inspect does not show the device cgroup rules: they are read from the OCI
  // spec it started the container with (its OCIConfigPath, believed only when root's and written by
  // root alone).
  async inspectContainerAccess(name: string): Promise<ContainerAccess | undefined> {
    const args = argv.containerInspectArgs(name);
    const result = await this.capture(args);
    if (this.dryRun) return undefined;
    if (result.exitCode !== 0) {
      if (isNoSuchObject(result.stderr)) return undefined;
      throw this.failure(args, `inspecting ${name}`, result.exitCode, result.stderr);
    }
    const access = parseContainerAccess(result.stdout).find((found) => found.name === name);
    if (access === undefined || access.deviceRules !== undefined) return access;
    // A container that does not run has no spec yet (podman writes it at start); one in a user
    // namespace of its own has it in a folder of its mapped root's. Neither can take a node.
    if (!access.running || access.userNamespace) return { ...access, deviceRules: [] };
    const spec = access.ociConfigPath;
    const unreadable = (why: string): RuntimeError => new RuntimeError(`cannot read the device cgroup rules of ${name}: ${why}`, {
      command: [this.name, ...args],
      hint: `kvc reads them from the OCI spec ${this.name} keeps for the container; check that ${this.name} runs as root and its storage belongs to root`,
    });
    if (spec === '') throw unreadable('the inspect output has no OCIConfigPath');
    const [file, folder] = await Promise.all([stat(spec), stat(dirname(spec))]).catch((error: unknown) => {
      throw unreadable(`${spec}: ${error instanceof Error ? error.message : String(error)}`);
    });
    if ([file, folder].some((info) => info.uid !== 0 || (info.mode & 0o022) !== 0)) throw unreadable(`${spec} or its folder is not root's alone`);
    return { ...access, deviceRules: parseOciDeviceRules(await readFile(spec, 'utf8')) };
  }

  // Pushes a local image to a registry as `destination`; docker gets it tagged first (its push takes
  // one name), and has no switch for TLS: its daemon's insecure-registries decides.
  async push(source: string, destination: string, options: { tlsVerify: boolean }): Promise<void> {
    if (this.name === 'docker') {
      if (!options.tlsVerify) {
        throw new UsageError('--tls-verify=false works with podman only: docker has no per-push switch for it', { hint: 'list the registry in insecure-registries of /etc/docker/daemon.json, or use --runtime podman' });
      }
      await this.tag(source, destination);
    }
    const args = argv.pushArgs(this.name, source, destination, options);
    const result = await this.capture(args, { long: true });
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
  }

  // Removes a container at once; missing is not an error.
  async removeContainer(name: string): Promise<void> {
    const args = argv.containerRemoveArgs(this.name, name);
    const result = await this.capture(args);
    if (result.exitCode !== 0 && !isNoSuchObject(result.stderr)) throw this.failure(args, `removing ${name}`, result.exitCode, result.stderr);
  }
}

function signalNumber(signal: string): number {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}
