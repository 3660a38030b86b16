// Pure decisions of a pull: what a failure was, whether a pulled image is the one asked for, and
// what comes after (use it, build locally, or neither).
import { IMAGE_LABEL, readImageLabels } from '../images/labels.js';

// What a failed pull was: 'refused' when the signature policy or kvc's checks said no (the image
// was there and is not trusted), 'unreachable' when the registry or the image could not be had.
export function classifyPullFailure(output: string): 'refused' | 'unreachable' {
  return /Source image rejected|signature|Debian-local change: sigstore disabled/i.test(output) ? 'refused' : 'unreachable';
}

// The reason to show: podman's own words, the last "Error:" line when there is one.
export function pullFailureReason(output: string): string {
  const lines = output.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const error = [...lines].reverse().find((line) => line.startsWith('Error:'));
  const reason = gpgReason((error ?? lines.at(-1) ?? 'no output').replace(/^Error:\s*/, ''));
  return /Debian-local change: sigstore disabled/.test(reason) ? `${reason} (this podman was built without sigstore signature support, so it can verify no pulled image)` : reason;
}

// gpgme's dump of a signature by a key the policy does not hold, said for people: whose key it is.
function gpgReason(reason: string): string {
  const dump = /Invalid GPG signature: gpgme\.Signature\{.*Fingerprint:"([0-9A-F]+)".*\}/.exec(reason);
  return dump === null ? reason : reason.replace(dump[0], `Invalid GPG signature: made by GPG key ${dump[1] ?? ''}, which KVC_IMAGE_VERIFY_KEY does not hold`);
}

// What a pulled image's labels must say: kvc's image of this instance, kernel and version.
export function labelProblems(labels: Readonly<Record<string, string>>, expected: { instance: string; kernel: string; version: string }): string[] {
  const read = readImageLabels(labels);
  if (read === undefined) return [`its labels ${IMAGE_LABEL.instance} and ${IMAGE_LABEL.kernel} do not name an instance and a kernel: it is not an image kvc built`];
  const problems: string[] = [];
  const check = (label: string, what: string, have: string, want: string): void => {
    if (have !== want) problems.push(`its label ${label} is ${have === '' ? 'missing' : JSON.stringify(have)}, not ${JSON.stringify(want)} (${what})`);
  };
  check(IMAGE_LABEL.instance, 'the instance', read.instance, expected.instance);
  check(IMAGE_LABEL.kernel, 'the kernel', read.kernel, expected.kernel);
  check(IMAGE_LABEL.version, 'KMOD_SOFTWARE_VERSION', read.version, expected.version);
  return problems;
}

// After a pull: use the pulled image, build locally (KVC_BUILD_FALLBACK=yes), or stop.
export type AfterPull = 'use' | 'build' | 'stop';

// The plan "pull, then fall back to a build": a verified image is used; anything else builds
// only when the fallback is allowed.
export function afterPull(pulled: boolean, fallback: boolean): AfterPull {
  if (pulled) return 'use';
  return fallback ? 'build' : 'stop';
}
