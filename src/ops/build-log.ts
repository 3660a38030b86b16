// The full log of each build, kept under <logDir>/<instance>/ (/var/log/kvc/usbip/), the last
// KEPT_LOGS per kernel; and the lines of the step that failed, for the error a user sees.
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

// Logs kept per kernel and instance.
export const KEPT_LOGS = 3;
// Lines of the failed step shown in the error.
const TAIL_LINES = 15;
const STEP_LINE = /^(\[\d+\/\d+\] )?STEP \d+\/\d+: ?(.*)$/;
// podman's (buildah's) last line of a failed step: `Error: building at STEP "RUN …": … exit status 2`.
const RUNTIME_STEP_ERROR = /^Error: building at STEP "(.*?)(?:": |"?$)/;
// podman's own lines between steps ("--> Using cache …", "--> 3f2a…").
const RUNTIME_STEP_NOTE = /^--> /;

// One build's log file and, per stage, its current step and that step's last lines (podman runs
// stages side by side: a RUN step's output goes with the stage that last began a RUN).
export class BuildLog {
  // Where the whole log is; undefined when none is kept or it could not be written at all.
  path: string | undefined;
  // Why the log stopped being written (a full or read-only /var/log): the build goes on without it.
  lost: string | undefined;
  private fd: number | undefined;
  private readonly stages = new Map<string, { step: string; command: string; lines: string[] }>();
  private running = '';
  private last = '';
  private failedStage: string | undefined;

  // A log under `dir` (none when dir is undefined: a build that failed before its first line, or tests that keep none).
  constructor(dir: string | undefined, kver: string, now = new Date()) {
    if (dir === undefined) return;
    const path = join(dir, `${kver}.${now.toISOString().replace(/[:.]/g, '-')}.log`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o750 });
      this.fd = openSync(path, 'wx', 0o640);
      this.path = path;
      pruneLogs(dir, kver, KEPT_LOGS);
    } catch (error) {
      this.lost = `${path} could not be created (${errorCode(error)})`;
    }
  }

  // Records one line of the build's output.
  // Writing is best-effort: a failure closes the file, says why in `lost`, and the build goes on.
  write(line: string): void {
    if (this.fd !== undefined) {
      try {
        writeSync(this.fd, `${line}\n`);
      } catch (error) {
        this.lost = `${this.path ?? 'the log'} stopped at this point (${errorCode(error)})`;
        this.close();
      }
    }
    const step = STEP_LINE.exec(line);
    if (step !== null) {
      const stage = step[1] ?? '';
      this.stages.set(stage, { step: line.replace(/^\[\d+\/\d+\] /, ''), command: step[2] ?? '', lines: [] });
      this.last = stage;
      if (/^RUN\b/.test(step[2] ?? '')) this.running = stage;
      return;
    }
    const failed = RUNTIME_STEP_ERROR.exec(line);
    if (failed !== null) {
      const command = failed[1] ?? '';
      this.failedStage = [...this.stages].find(([, entry]) => command !== '' && entry.command.startsWith(command.slice(0, 60)))?.[0];
      return;
    }
    if (line.trim() === '' || RUNTIME_STEP_NOTE.test(line)) return;
    const lines = this.stages.get(this.running)?.lines ?? this.stages.get(this.last)?.lines;
    if (lines === undefined) return;
    lines.push(line);
    if (lines.length > TAIL_LINES * 4) lines.splice(0, lines.length - TAIL_LINES);
  }

  // The step that failed ("STEP 5/14: RUN …", the one podman's closing error names, else the one
  // that ran last) and its last lines.
  failedStep(): { step: string; lines: string[] } {
    const entry = this.stages.get(this.failedStage ?? this.running) ?? this.stages.get(this.last);
    const step = entry?.step ?? '';
    return { step: step.length > 160 ? `${step.slice(0, 157)}...` : step, lines: (entry?.lines ?? []).slice(-TAIL_LINES) };
  }

  close(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // Already said, or nothing to lose.
      }
    }
    this.fd = undefined;
  }
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' ? 'no space left on device' : code ?? String(error);
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
