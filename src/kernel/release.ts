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

// An image tag for a kernel release, one to one and reversible (kernelReleaseOfTag). A release with
// neither "+" nor "~" is its own tag; any other gets a leading "_", which no release has, and
// "_" → "__", "+" → "_p", "~" → "_t" (6.12.117+deb12-amd64 → _6.12.117_pdeb12-amd64). Tags allow
// [A-Za-z0-9_.-] and 128 characters.
export function imageTagFor(kver: string): string {
  if (!/[+~]/.test(kver)) return kver;
  const tag = `_${kver.replace(/[_+~]/g, (c) => TAG_ESCAPES[c] ?? c)}`;
  if (tag.length > 128) {
    throw new UsageError(`${JSON.stringify(kver)} makes an image tag of ${tag.length} characters (at most 128)`, {
      hint: 'a release with "+" or "~" gets a longer tag; use a shorter release name',
    });
  }
  return tag;
}

const TAG_ESCAPES: Record<string, string> = { _: '__', '+': '_p', '~': '_t' };

// The kernel release an image tag of imageTagFor stands for.
export function kernelReleaseOfTag(tag: string): string {
  if (!tag.startsWith('_')) return tag;
  return tag.slice(1).replace(/_(.)/g, (whole, c: string) => ({ _: '_', p: '+', t: '~' })[c] ?? whole);
}
