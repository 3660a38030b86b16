// The runtime port: the container operations kvc's core uses, and nothing else (no raw command
// lines). ContainerRuntime (podman or docker) implements it, DryRunRuntime (dry-run-runtime.ts)
// wraps it for --dry-run; unit tests give fakes of it. Queries always run; an operation that would
// change something returns a Would from the dry-run adapter instead of running.
import type { BuildSpec, DaemonSpec, PushOptions, StateMount } from './args.js';
import type { CommandResult } from './command-runner.js';
import type { BuildOptions } from './image-commands.js';
import type { ContainerAccess, ContainerInfo, ImageInfo } from './parse.js';
import type { RuntimeName } from './runtime-name.js';
import type { Effect, Would } from '../host/effect.js';

// What kvc asks of a container runtime.
export interface RuntimePort {
  // Which runtime this is.
  readonly name: RuntimeName;
  // The runtime's version and where it keeps images (kvc check).
  describe(): Promise<{ version: string; storage: string | undefined }>;

  // Images.
  inspectImages(refs: readonly string[]): Promise<ImageInfo[]>;
  inspectImage(ref: string): Promise<ImageInfo | undefined>;
  imagesWithLabel(label: string, value: string): Promise<ImageInfo[]>;
  build(spec: BuildSpec, onLine: (line: string) => void, options?: BuildOptions): Promise<Effect>;
  tag(source: string, target: string): Promise<Effect>;
  removeImage(ref: string): Promise<Effect>;
  push(source: string, destination: string, options: PushOptions): Promise<Effect>;
  // Pulls only what the signature policy file accepts (podman; KVC_IMAGE_REPO).
  pull(image: string, options: { policyFile: string; tlsVerify: boolean }): Promise<Effect>;

  // Containers: kmod, probes, tools, daemons. A probe is a query (read-only, no privileges, no
  // network); the rest change something. In a dry run runTool, execTool, captureExec, runHook and
  // runDaemon print their command and answer as a command with no output that exited 0.
  runModuleCommand(image: string, command: readonly string[], what: string, volumes?: readonly string[]): Promise<CommandResult | Would>;
  probe(image: string, command: readonly string[]): Promise<CommandResult>;
  // apparmor: the profile kvc loaded for the instance's tools (ops/tools-apparmor.ts), if any.
  runTool(image: string, command: readonly string[], tty: boolean, apparmor?: string): Promise<number>;
  toolRunPrefix(image: string): string[];
  execTool(containerName: string, command: readonly string[], tty: boolean): Promise<number>;
  captureExec(containerName: string, command: readonly string[], options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<CommandResult>;
  runDaemon(spec: DaemonSpec, onLine: (line: string) => void, signal: AbortSignal): { exited: Promise<number> };
  runHook(image: string, command: readonly string[], apparmor?: string): Promise<CommandResult>;
  // state: host folders bound in it (a payload's tools state: host path, path in the container).
  startToolsHolder(image: string, containerName: string, instance: string, apparmor?: string, state?: readonly StateMount[]): Promise<ContainerInfo | Would>;
  inspectContainer(name: string): Promise<ContainerInfo | undefined>;
  inspectContainerAccess(name: string): Promise<ContainerAccess | undefined>;
  removeContainer(name: string): Promise<Effect>;
}
