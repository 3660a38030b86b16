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
