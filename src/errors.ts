// Typed errors: each says what went wrong and what the user must do, and carries its exit status.

// Every exit status kvc uses (sysexits(3) codes, 77 for a kernel that refuses, and 130 for an
// interrupt): docs/exit-codes.md's table "Exit statuses" and `kvc help exit-status` are this one, and each
// error class below picks one of them.
export const ExitStatus = {
  ok: 0,
  usage: 64,
  dataErr: 65,
  noInput: 66,
  unavailable: 69,
  software: 70,
  tempFail: 75,
  refused: 77,
  config: 78,
  interrupted: 130,
} as const;

// What each exit status means, in the words of docs/exit-codes.md's table (one line each).
// 77 is sysexits' EX_NOPERM: the kernel does not permit it (no module support, a required option
// unset, lockdown or signature enforcement against unsigned modules); test harnesses (automake,
// meson) read 77 as "skipped", which is what a caller should do on a host that cannot take it.
export const EXIT_STATUS_MEANINGS: Readonly<Record<keyof typeof ExitStatus, string>> = {
  ok: 'done; for `kvc status`: nothing it found is an error',
  usage: 'bad command line: unknown command, option or instance, a missing or malformed argument, a kernel that is not running for load/unload',
  dataErr: 'the built image failed its checks (a module missing, wrong vermagic or version)',
  noInput: 'the image for that kernel does not exist (build it), or the configuration folder does not exist',
  unavailable: 'something kvc needs is not there: the container runtime, the system bus, a container that cannot take a device node',
  software: 'a runtime, kernel or systemd operation failed (a build, modprobe, a probe container)',
  tempFail: 'busy: another kvc holds the instance (with --no-wait), or a module is in use',
  refused: 'refused: this kernel cannot take the modules (no module support, a required option unset, unsigned modules refused); nothing was changed',
  config: 'configuration error: a .conf or devices file that cannot be read, is not safe or has a bad value (`kvc check` lists them all)',
  interrupted: 'interrupted by SIGINT or SIGTERM; what was under way was stopped cleanly',
};

// What every kvc error may carry besides its message: the hint (what the user must do) and the cause.
export interface KvcErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
}

// The base of every error kvc expects: a one-line message, a hint (what to do) and an exit status.
export class KvcError extends Error {
  readonly hint: string | undefined;
  readonly exitStatus: number = ExitStatus.software;

  constructor(message: string, options: KvcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

// A command line that cannot be acted on (bad argument, unknown instance name).
export class UsageError extends KvcError {
  override readonly exitStatus = ExitStatus.usage;
}

// Where a configuration fault is: the line of its file, when known.
export interface ConfigErrorOptions extends KvcErrorOptions {
  line?: number | undefined;
}

// A configuration file that is missing, unreadable or invalid; names the file and, where known, the
// line and the key, as one line: "FILE:LINE: KEY: problem".
export class ConfigError extends KvcError {
  override readonly exitStatus = ExitStatus.config;
  readonly file: string;
  readonly key: string | undefined;
  readonly line: number | undefined;
  // What is wrong, without the file, line and key.
  readonly problem: string;

  constructor(file: string, key: string | undefined, problem: string, options: ConfigErrorOptions = {}) {
    super(`${file}${options.line === undefined ? '' : `:${options.line}`}: ${key === undefined ? '' : `${key}: `}${problem}`, options);
    this.file = file;
    this.key = key;
    this.line = options.line;
    this.problem = problem;
  }

  // The same fault, placed at `line` of its file.
  atLine(line: number): ConfigError {
    return new ConfigError(this.file, this.key, this.problem, { hint: this.hint, cause: this.cause, line });
  }
}

// Every fault found in one pass over the configuration (all of a file's at once, not one per run):
// each is one line of its own (errorLines). Only ever made with two or more.
export class ConfigErrors extends ConfigError {
  readonly errors: readonly ConfigError[];

  constructor(errors: readonly ConfigError[]) {
    const first = errors[0] as ConfigError;
    super(first.file, first.key, `${first.problem} (and ${errors.length - 1} more)`, { line: first.line, hint: first.hint });
    this.errors = errors;
  }
}

// The container runtime is missing or one of its commands failed.
export class RuntimeError extends KvcError {
  readonly command: readonly string[];
  readonly childExitCode: number | undefined;
  readonly stderrTail: string;
  override readonly exitStatus: number;

  constructor(message: string, details: {
    command: readonly string[];
    childExitCode?: number | undefined;
    stderrTail?: string;
    missing?: boolean;
  } & KvcErrorOptions) {
    super(message, details);
    this.command = details.command;
    this.childExitCode = details.childExitCode;
    this.stderrTail = details.stderrTail ?? '';
    this.exitStatus = details.missing === true ? ExitStatus.unavailable : ExitStatus.software;
  }
}

// A build failed: says which step, shows that step's last lines, and where the whole log is.
export class BuildFailedError extends KvcError {
  override readonly exitStatus = ExitStatus.software;
  // One line for logs and status: what failed, without the step's output.
  readonly summary: string;
  readonly log: string | undefined;

  constructor(summary: string, lastLines: readonly string[], log: string | undefined, options: KvcErrorOptions = {}) {
    super(lastLines.length === 0 ? summary : `${summary}; its last lines:\n${lastLines.map((line) => `  | ${line}`).join('\n')}\n`, options);
    this.summary = summary;
    this.log = log;
  }
}

// The runtime has no image of that name (raised by the runtime adapter, which alone reads its
// exit codes and messages).
export class ImageNotFoundError extends RuntimeError {}

// The kernel cannot take the instance's modules (no module support, a required option unset,
// unsigned modules refused): its own exit status, so a caller can tell "not on this host" apart.
export class KernelRefusedError extends KvcError {
  override readonly exitStatus = ExitStatus.refused;
}

// A module is in use and may not be pulled from under its users.
export class ModuleInUseError extends KvcError {
  override readonly exitStatus = ExitStatus.tempFail;
}

// Loading or unloading a module failed in the kernel.
export class ModuleLoadError extends KvcError {
  override readonly exitStatus = ExitStatus.software;
}

// A built image failed its checks (wrong vermagic or version, module missing).
export class ImageCheckError extends KvcError {
  override readonly exitStatus = ExitStatus.dataErr;
}

// A pulled image was refused (signature or kvc's checks) or could not be pulled, and
// KVC_BUILD_FALLBACK=no forbids building it here: nothing is built or loaded.
export class PullRefusedError extends KvcError {
  override readonly exitStatus = ExitStatus.dataErr;
}

// The image kvc needs for a kernel does not exist (or lacks a module KMOD_NAMES lists): build it.
export class ImageMissingError extends KvcError {
  override readonly exitStatus = ExitStatus.noInput;
}

// Something kvc must read is not there (the configuration folder).
export class MissingInputError extends KvcError {
  override readonly exitStatus = ExitStatus.noInput;
}

// The operation could not take its lock (another kvc holds it and the caller asked not to wait).
export class BusyError extends KvcError {
  override readonly exitStatus = ExitStatus.tempFail;
}

// The user or systemd interrupted kvc (SIGINT, SIGTERM); what was under way was stopped cleanly.
export class InterruptedError extends KvcError {
  override readonly exitStatus = ExitStatus.interrupted;
}

// Why a container cannot be given a device node.
export type ContainerRefusal =
  | 'no-such-container' | 'not-running' | 'privileged' | 'can-mknod' | 'can-mount' | 'user-namespace'
  | 'cgroup-rule' | 'dev-not-tmpfs' | 'name-taken' | 'gone';

// A container that cannot be given a device node as it was created (or that is gone); the hint
// says how to create it (the exact podman flags). Nothing was created.
export class ContainerRefusedError extends KvcError {
  override readonly exitStatus = ExitStatus.unavailable;
  readonly reason: ContainerRefusal;

  constructor(reason: ContainerRefusal, message: string, options: KvcErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}

// Making or removing a device node failed on the host (mknod missing or refused, the node not as made).
export class DeviceNodeError extends KvcError {
  override readonly exitStatus = ExitStatus.software;
}

// A module signing key kvc cannot use as it is (unreadable, readable by others, not a certificate,
// half there) or cannot create; names the file and what to do. Exit 78, like a bad setting.
export class SigningKeyError extends KvcError {
  override readonly exitStatus = ExitStatus.config;
  readonly file: string | undefined;

  constructor(file: string | undefined, message: string, options: KvcErrorOptions = {}) {
    super(message, options);
    this.file = file;
  }
}

// One line for the user: the message, then the hint.
export function describeError(error: unknown): string {
  if (error instanceof ConfigErrors) return error.errors.map(describeError).join('\n');
  if (error instanceof KvcError) {
    if (error.hint === undefined) return error.message;
    // A message that shows output lines ends with a newline: the hint then gets its own line.
    return error.message.endsWith('\n') ? `${error.message}${error.hint}` : `${error.message}; ${error.hint}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

// What the user is shown of an error, as log lines: one per configuration fault, else one.
export function errorLines(error: unknown): string[] {
  return error instanceof ConfigErrors ? error.errors.map(describeError) : [describeError(error)];
}

// The exit status an error maps to (70 for anything kvc did not expect).
export function exitStatusOf(error: unknown): number {
  return error instanceof KvcError ? error.exitStatus : ExitStatus.software;
}
