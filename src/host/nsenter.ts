// Runs a command in the mount namespace of a running process (the tools container) with nsenter(1).
import { execa } from 'execa';
import { findOnPath } from '../runtime/container-runtime.js';

// Runs `command` inside pid's mount namespace with the caller's stdio; resolves to its exit status,
// or undefined when nsenter is not on this host.
export async function runInMountNamespace(pid: number, command: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  const nsenter = findOnPath('nsenter', env['PATH']);
  if (nsenter === undefined) return undefined;
  const result = await execa(nsenter, [`--target=${pid}`, '--mount', '--', ...command], { stdio: 'inherit', reject: false, env });
  if (result.signal !== undefined) return 128 + (result.signal === 'SIGINT' ? 2 : 15);
  return result.exitCode ?? 1;
}

// Runs `command` inside pid's mount namespace and collects its output (never throws for a
// non-zero exit: the caller reads exitCode). Rejects only when nsenter is missing.
export async function captureInMountNamespace(pid: number, command: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean }> {
  const nsenter = findOnPath('nsenter') ?? findOnPath('nsenter', '/usr/bin:/bin');
  if (nsenter === undefined) throw new Error('nsenter (util-linux) is not on PATH');
  const result = await execa(nsenter, [`--target=${pid}`, '--mount', '--', ...command], {
    reject: false, stdin: 'ignore', ...(options.signal === undefined ? {} : { cancelSignal: options.signal }), ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr), timedOut: result.timedOut === true };
}

// Starts a long-running `command` inside pid's mount namespace (a daemon the caller supervises),
// its output line by line to onLine; resolves when it exits, with its status.
export function superviseInMountNamespace(pid: number, command: readonly string[], onLine: (line: string) => void, signal: AbortSignal): { exited: Promise<number> } {
  const nsenter = findOnPath('nsenter') ?? findOnPath('nsenter', '/usr/bin:/bin');
  if (nsenter === undefined) return { exited: Promise.reject(new Error('nsenter (util-linux) is not on PATH')) };
  const child = execa(nsenter, [`--target=${pid}`, '--mount', '--', ...command], { reject: false, stdin: 'ignore', all: true, buffer: false, cancelSignal: signal, forceKillAfterDelay: 5000 });
  let rest = '';
  child.all?.on('data', (chunk: Buffer) => {
    const lines = (rest + String(chunk)).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line);
  });
  return { exited: child.then((result) => result.exitCode ?? (result.isCanceled ? 0 : 1)) };
}
