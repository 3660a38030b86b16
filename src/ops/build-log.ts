// The full log of each build, kept under <logDir>/<instance>/ (/var/log/kvc/usbip/), the last
// KEPT_LOGS per kernel; and the lines of the step that failed, for the error a user sees.
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

// Logs kept per kernel and instance.
export const KEPT_LOGS = 3;
// Lines of the failed step shown in the error.
const TAIL_LINES = 15;
const STEP_LINE = /^(\[\d+\/\d+\] )?STEP \d+\/\d+:/;
// podman's (buildah's) last line of a failed step: `Error: building at STEP "RUN …": … exit status 2`.
const RUNTIME_STEP_ERROR = /^Error: building at STEP /;

// One build's log file and the lines of its current step.
export class BuildLog {
  readonly path: string | undefined;
  private fd: number | undefined;
  private step = '';
  private stepLines: string[] = [];

  // A log under `dir` (none when dir is undefined: --dry-run, or tests that keep none).
  constructor(dir: string | undefined, kver: string, now = new Date()) {
    if (dir === undefined) return;
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    this.path = join(dir, `${kver}.${now.toISOString().replace(/[:.]/g, '-')}.log`);
    this.fd = openSync(this.path, 'wx', 0o640);
    pruneLogs(dir, kver, KEPT_LOGS);
  }

  // Records one line of the build's output.
  write(line: string): void {
    if (this.fd !== undefined) writeSync(this.fd, `${line}\n`);
    if (STEP_LINE.test(line)) {
      this.step = line.replace(/^\[\d+\/\d+\] /, '');
      this.stepLines = [];
    } else {
      this.stepLines.push(line);
      if (this.stepLines.length > TAIL_LINES * 4) this.stepLines.splice(0, this.stepLines.length - TAIL_LINES);
    }
  }

  // The step that ran last ("STEP 5/14: RUN …") and its last lines, without the runtime's own
  // closing line (it repeats the step).
  failedStep(): { step: string; lines: string[] } {
    const lines = this.stepLines.filter((line) => line.trim() !== '' && !RUNTIME_STEP_ERROR.test(line));
    return { step: this.step.length > 160 ? `${this.step.slice(0, 157)}...` : this.step, lines: lines.slice(-TAIL_LINES) };
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

// The instance's log folder.
export function instanceLogDir(logDir: string | undefined, instance: string): string | undefined {
  return logDir === undefined ? undefined : join(logDir, instance);
}

// The newest log of a kernel's builds, if any.
export function latestLog(dir: string | undefined, kver: string): string | undefined {
  if (dir === undefined) return undefined;
  const logs = logsOf(dir, kver);
  return logs.length === 0 ? undefined : join(dir, logs[logs.length - 1] ?? '');
}

// A kernel's logs, oldest first (their names sort by time).
function logsOf(dir: string, kver: string): string[] {
  try {
    return readdirSync(dir).filter((file) => file.startsWith(`${kver}.`) && file.endsWith('.log') && /^\d{4}-/.test(file.slice(kver.length + 1))).sort();
  } catch {
    return [];
  }
}

// Keeps the newest `keep` logs of a kernel.
function pruneLogs(dir: string, kver: string, keep: number): void {
  const logs = logsOf(dir, kver);
  for (const old of logs.slice(0, Math.max(0, logs.length - keep))) rmSync(join(dir, old), { force: true });
}
