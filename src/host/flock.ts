// flock(2) for Node, through util-linux flock(1): a child locks an open file description that this
// process keeps (passed as the child's fd 3), so the lock outlives the child and the kernel drops
// it when this process closes the file or dies, even by SIGKILL.
import { spawn } from 'node:child_process';
import { findOnPath } from './find-on-path.js';
import { KvcError, ExitStatus } from '../errors.js';

// flock(1) is missing (util-linux) or could not lock the file.
export class FlockError extends KvcError {
  override readonly exitStatus = ExitStatus.unavailable;
}

// Locks `fd` exclusively. With `wait` false, resolves false at once when another holds it; with
// `wait`, blocks until it is free, or rejects with the signal's reason when it is aborted.
export async function flockExclusive(fd: number, options: { wait: boolean; signal?: AbortSignal | undefined }): Promise<boolean> {
  return flock(fd, 'exclusive', options);
}

// Locks `fd` shared (any number of holders; none while one holds it exclusively), as flockExclusive
// does otherwise. On a descriptor that holds it shared, flockExclusive converts the lock (not
// atomically: a conversion that fails may have let go of the shared lock).
export async function flockShared(fd: number, options: { wait: boolean; signal?: AbortSignal | undefined }): Promise<boolean> {
  return flock(fd, 'shared', options);
}

async function flock(fd: number, mode: 'exclusive' | 'shared', options: { wait: boolean; signal?: AbortSignal | undefined }): Promise<boolean> {
  // util-linux lives in /usr/bin (or /bin); PATH first, then there, so a bare PATH still locks.
  const flock = findOnPath('flock') ?? findOnPath('flock', '/usr/bin:/bin');
  if (flock === undefined) throw new FlockError('flock (util-linux) is not on PATH; kvc locks each instance with it', { hint: 'install util-linux' });
  options.signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const args = [`--${mode}`, ...(options.wait ? [] : ['--nonblock', '--conflict-exit-code', '75']), '3'];
    const child = spawn(flock, args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => { stderr += String(chunk); });
    const abort = (): void => { child.kill('SIGKILL'); };
    options.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (error) => {
      options.signal?.removeEventListener('abort', abort);
      reject(new FlockError(`flock could not run: ${error.message}`, { hint: 'install util-linux', cause: error }));
    });
    child.on('exit', (code) => {
      options.signal?.removeEventListener('abort', abort);
      if (options.signal?.aborted === true) reject(options.signal.reason instanceof Error ? options.signal.reason : new Error('aborted'));
      else if (code === 0) resolve(true);
      else if (code === 75 && !options.wait) resolve(false);
      else reject(new FlockError(`flock failed (exit ${code ?? 'signal'}): ${stderr.trim()}`, { hint: 'check that the run folder is on a local file system' }));
    });
  });
}
