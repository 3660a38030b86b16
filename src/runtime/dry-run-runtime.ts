// The dry-run adapter (--dry-run): a RuntimePort around the real one. Queries (inspect, list,
// probe, describe) go to the real adapter, so a dry run sees the host as it is; every operation
// that would change something prints the exact command line the real adapter would run and
// returns a Would (or, where the port's type is a command's answer, an answer of nothing, exit 0)
// without calling the real adapter. Chosen once, where the session is made (ops/session.ts).
import * as argv from './args.js';
import { commandLine, type CommandResult } from './command-runner.js';
import { assertPullable, assertPushable } from './image-commands.js';
import type { ContainerAccess, ContainerInfo, ImageInfo } from './parse.js';
import type { RuntimePort } from './port.js';
import type { Effect, Would } from '../host/effect.js';
import type { RuntimeName } from './runtime-name.js';

// What a command that did not run answers where the port expects an answer.
const NO_ANSWER: CommandResult = { exitCode: 0, stdout: '', stderr: '' };

// The real adapter for queries, print for the commands a dry run shows instead of running.
export class DryRunRuntime implements RuntimePort {
  readonly name: RuntimeName;
  private readonly real: RuntimePort;
  private readonly print: (line: string) => void;

  constructor(real: RuntimePort, print: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
    this.real = real;
    this.name = real.name;
    this.print = print;
  }

  // Prints the command that would run; the Would that says so.
  private would(args: readonly string[]): Would {
    const line = commandLine(this.name, args);
    this.print(line);
    return { would: line };
  }

  // Queries: the real adapter's answers.
  describe(): Promise<{ version: string; storage: string | undefined }> { return this.real.describe(); }
  inspectImages(refs: readonly string[]): Promise<ImageInfo[]> { return this.real.inspectImages(refs); }
  inspectImage(ref: string): Promise<ImageInfo | undefined> { return this.real.inspectImage(ref); }
  imagesWithLabel(label: string, value: string): Promise<ImageInfo[]> { return this.real.imagesWithLabel(label, value); }
  probe(image: string, command: readonly string[]): Promise<CommandResult> { return this.real.probe(image, command); }
  toolRunPrefix(image: string): string[] { return this.real.toolRunPrefix(image); }
  inspectContainer(name: string): Promise<ContainerInfo | undefined> { return this.real.inspectContainer(name); }
  inspectContainerAccess(name: string): Promise<ContainerAccess | undefined> { return this.real.inspectContainerAccess(name); }

  // Changes: printed, not run.
  async build(spec: argv.BuildSpec): Promise<Effect> { return this.would(argv.buildArgs(this.name, spec)); }
  async tag(source: string, target: string): Promise<Effect> { return this.would(argv.tagArgs(source, target)); }
  async removeImage(ref: string): Promise<Effect> { return this.would(argv.removeImageArgs(ref)); }
  async push(source: string, destination: string, options: argv.PushOptions): Promise<Effect> {
    assertPushable(this.name, options);
    if (this.name === 'docker') this.would(argv.tagArgs(source, destination));
    return this.would(argv.pushArgs(this.name, source, destination, options));
  }
  async pull(image: string, options: { policyFile: string; tlsVerify: boolean }): Promise<Effect> {
    assertPullable(this.name);
    return this.would(argv.pullArgs(image, options));
  }
  async runModuleCommand(image: string, command: readonly string[], _what: string, volumes: readonly string[] = []): Promise<CommandResult | Would> {
    return this.would(argv.moduleRunArgs(image, command, volumes));
  }
  async runTool(image: string, command: readonly string[], tty: boolean, apparmor?: string): Promise<number> {
    this.would(argv.toolRunArgs(image, command, { tty, apparmor, runtime: this.name }));
    return 0;
  }
  async execTool(containerName: string, command: readonly string[], tty: boolean): Promise<number> {
    this.would(argv.toolExecArgs(containerName, command, { tty, interactive: true }));
    return 0;
  }
  async captureExec(containerName: string, command: readonly string[]): Promise<CommandResult> {
    this.would(argv.toolExecArgs(containerName, command, { tty: false, interactive: false }));
    return NO_ANSWER;
  }
  runDaemon(spec: argv.DaemonSpec): { exited: Promise<number> } {
    this.would(argv.daemonRunArgs(this.name, spec));
    return { exited: Promise.resolve(0) };
  }
  async runHook(image: string, command: readonly string[], apparmor?: string): Promise<CommandResult> {
    this.would(argv.toolRunArgs(image, command, { tty: false, apparmor, runtime: this.name }));
    return NO_ANSWER;
  }
  async startToolsHolder(image: string, containerName: string, instance: string, apparmor?: string, state: readonly argv.StateMount[] = []): Promise<ContainerInfo | Would> {
    if (this.name === 'docker') this.would(argv.containerRemoveArgs(this.name, containerName));
    return this.would(argv.toolsHolderRunArgs(this.name, image, containerName, instance, apparmor, state));
  }
  async removeContainer(name: string): Promise<Effect> { return this.would(argv.containerRemoveArgs(this.name, name)); }
}
