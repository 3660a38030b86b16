// Kernel release strings (`uname -r`): validation and their use in image tags.
import { release } from 'node:os';
import { UsageError } from '../errors.js';

const KERNEL_RELEASE = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;

// Returns `kver` when it is a plain kernel release (no "/", "..", spaces or control characters).
export function checkKernelRelease(kver: string): string {
  if (!KERNEL_RELEASE.test(kver) || kver.includes('..')) {
    throw new UsageError(`${JSON.stringify(kver)} is not a kernel release`, {
      hint: 'give a release as `uname -r` prints it, e.g. 6.1.0-56-amd64',
    });
  }
  return kver;
}

// The running kernel's release.
export function runningKernelRelease(): string {
  return release();
}

