// The runtime's commands as processes: the only place that spawns podman or docker. Finds the
// binary, runs a command captured, streamed, with the caller's terminal or followed line by line,
// applies the time limit of short commands, and turns a failure into a RuntimeError with its exit
// code and stderr's tail. (A dry run never gets here: DryRunRuntime prints what would run.)
import { execa } from 'execa';
import { RuntimeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { findOnPath } from '../host/find-on-path.js';
import type { RuntimeName } from './runtime-name.js';
import { lastSaid, saysNoSpace } from './parse.js';
import { environment } from '../environment.js';

// What a captured command returned.
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

// How the adapter behaves.
export interface RuntimeOptions {
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
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

// The last lines of a command's output, for an error.
export function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
}

// The arguments a runtime command is run with: podman would log an event (create, init, start,
// died, remove…) to the journal for each of kvc's short-lived containers, under kvc's own unit:
// `journalctl -u kvc@…` would read as noise.
export function withGlobalFlags(name: RuntimeName, args: readonly string[]): string[] {
  return name === 'podman' ? ['--events-backend=none', ...args] : [...args];
}

// A runtime command as shown to a person (--verbose, --dry-run): exactly what runs, quoted.
export function commandLine(name: RuntimeName, args: readonly string[]): string {
  return [name, ...withGlobalFlags(name, args)].map(displayArg).join(' ');
}

// A runtime's commands as processes (see the top of this file).
export class CommandRunner {
  readonly name: RuntimeName;
  protected readonly logger: Logger;
  protected readonly env: NodeJS.ProcessEnv;
  private readonly queryTimeoutMs: number;
  private binary: string | undefined;

  constructor(name: RuntimeName, options: RuntimeOptions) {
    this.name = name;
    this.logger = options.logger;
    // podman in a Type=notify unit would take over NOTIFY_SOCKET and report readiness itself.
    const { NOTIFY_SOCKET: _notify, ...env } = options.env ?? environment();
    // docker's legacy builder cannot read `RUN --mount=type=secret` (the signing step's): BuildKit can.
    this.env = name === 'docker' && env['DOCKER_BUILDKIT'] === undefined ? { ...env, DOCKER_BUILDKIT: '1' } : env;
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

  protected show(args: readonly string[]): string {
    return commandLine(this.name, args);
  }

  // The arguments the runtime is run with (see withGlobalFlags above).
  protected withGlobalFlags(args: readonly string[]): string[] {
    return withGlobalFlags(this.name, args);
  }

  // Runs a command and captures its output; a non-zero exit is returned, not thrown. A short command
  // (the default) is stopped after the query timeout and throws; `long: true` has no time limit;
  // `env` adds variables to the runtime's environment for this command only.
  async capture(args: readonly string[], options: { signal?: AbortSignal; long?: boolean; timeoutMs?: number; env?: Readonly<Record<string, string>> } = {}): Promise<CommandResult> {
    const binary = this.locate();
    this.logger.verbose(`$ ${this.show(args)}`);
    const result = await execa(binary, this.withGlobalFlags(args), {
      env: { ...this.env, ...options.env }, extendEnv: false, reject: false, stdin: 'ignore', stripFinalNewline: true, cwd: RUNTIME_CWD,
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
  protected failure(args: readonly string[], what: string, exitCode: number, output: string, options: { hint?: string | undefined; sawNoSpace?: boolean } = {}): RuntimeError {
    const last = tail(output);
    const lastLine = lastSaid(last);
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
    this.logger.verbose(`$ ${this.show(args)}`);
    const result = await execa(binary, this.withGlobalFlags(args), { env: this.env, extendEnv: false, reject: false, stdio: 'inherit', cwd: RUNTIME_CWD });
    if (result.signal !== undefined) return 128 + signalNumber(result.signal);
    return result.exitCode ?? 1;
  }

  // Runs a command that lasts (a daemon's client), its output line by line to onLine, until it
  // exits (resolves to its result) or the signal aborts it (stopped, then killed after 10 s).
  protected follow(args: readonly string[], onLine: (line: string) => void, signal: AbortSignal): Promise<{ exitCode: number | undefined; stopped: boolean }> {
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
    return child.then((result) => {
      if (rest.trim() !== '') onLine(rest);
      return { exitCode: result.exitCode, stopped: result.isCanceled || result.signal !== undefined };
    });
  }
}

// The number of a signal name, for the 128+N exit status of a command a signal ended.
function signalNumber(signal: string): number {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}
