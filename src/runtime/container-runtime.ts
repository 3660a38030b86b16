// The podman/docker adapter kvc's operations use: images (ImageCommands), and containers: module
// commands, probes, tools (run, exec, the tools container), daemons, inspection. Every process
// goes through CommandRunner, the only module that spawns the runtime.
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ImageNotFoundError, RuntimeError } from '../errors.js';
import * as argv from './args.js';
import { tail, type CommandResult } from './command-runner.js';
import { ImageCommands } from './image-commands.js';
import type { RuntimePort } from './port.js';
import type { Effect } from '../host/effect.js';
import { isNoSuchObject, parseContainerAccess, parseContainerInspect, parseOciDeviceRules, type ContainerAccess, type ContainerInfo } from './parse.js';

// podman's and docker's own exit status when a container could not be run at all.
const RUNTIME_FAILED = 125;

// podman or docker, driven with argument arrays; JSON for queries; errors with exit code and stderr tail.
export class ContainerRuntime extends ImageCommands implements RuntimePort {
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
  async runTool(image: string, command: readonly string[], tty: boolean, apparmor?: string): Promise<number> {
    const status = await this.passthrough(argv.toolRunArgs(image, command, { tty, apparmor, runtime: this.name }));
    if (status === RUNTIME_FAILED && (await this.inspectImage(image)) === undefined) {
      throw new ImageNotFoundError(`there is no image ${image}`, { command: [this.name, 'run', image], childExitCode: status });
    }
    return status;
  }

  // The runtime's arguments that run a tool from the image in a new container, up to and without
  // the image (global flags included), for the host command's record (ops/tool-run-record.ts).
  toolRunPrefix(image: string): string[] {
    const args = this.withGlobalFlags(argv.toolRunArgs(image, [], { tty: false, runtime: this.name }));
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
    const exited = this.follow(args, onLine, signal).then(async (result) => {
      if (result.stopped) await this.removeContainer(spec.containerName).catch(() => undefined);
      return result.exitCode ?? (result.stopped ? 0 : 1);
    });
    return { exited };
  }

  // Runs a command with the tools' privileges and captures its output (hooks); non-zero is returned.
  async runHook(image: string, command: readonly string[], apparmor?: string): Promise<CommandResult> {
    return this.capture(argv.toolRunArgs(image, command, { tty: false, apparmor, runtime: this.name }), { long: true });
  }

  // Starts the tools container and returns its main process ID.
  async startToolsHolder(image: string, containerName: string, instance: string, apparmor?: string, state: readonly argv.StateMount[] = []): Promise<ContainerInfo> {
    // podman replaces a container of that name in the same call; docker needs it removed first.
    if (this.name === 'docker') await this.removeContainer(containerName);
    await this.check(argv.toolsHolderRunArgs(this.name, image, containerName, instance, apparmor, state), `starting the tools container ${containerName}`);
    const info = await this.inspectContainer(containerName);
    if (info === undefined || !info.running || info.pid <= 0) {
      throw new RuntimeError(`the tools container ${containerName} did not stay up`, { command: [this.name, 'container', 'inspect', containerName] });
    }
    return info;
  }

  // A container by its exact name, or undefined. `container inspect NAME` also takes an ID prefix:
  // what it returns counts only when its name is NAME.
  async inspectContainer(name: string): Promise<ContainerInfo | undefined> {
    const result = await this.capture(argv.containerInspectArgs(name));
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

  // Removes a container at once; missing is not an error.
  async removeContainer(name: string): Promise<Effect> {
    const args = argv.containerRemoveArgs(this.name, name);
    const result = await this.capture(args);
    if (result.exitCode !== 0 && !isNoSuchObject(result.stderr)) throw this.failure(args, `removing ${name}`, result.exitCode, result.stderr);
    return 'done';
  }
}
