// Image names: what kvc calls the image of an instance for a kernel, locally and in a registry. Pure.
import type { InstanceSettings } from '../config/settings.js';
import { UsageError } from '../errors.js';

// The image name for an instance and kernel: <name>-<version>:<kver>, as the bash KVC names them.
export function imageName(settings: InstanceSettings, kver: string): string {
  return `localhost/${settings.name}-${settings.softwareVersion.toLowerCase()}:${imageTagFor(kver)}`;
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

// Where an image kvc names localhost/<name>-<version>:<tag> is in a registry: <repo>/<name>-<version>:<tag>.
// Without a repo, the local name (what `podman kube play` on the same host finds).
export function imageInRepo(localName: string, repo: string | undefined): string {
  if (repo === undefined) return localName;
  return `${repo.replace(/\/+$/, '')}/${localName.replace(/^localhost\//, '')}`;
}

// The repository part of an image reference: everything before the tag.
export function withoutTag(image: string): string {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(0, colon) : image;
}

const IMAGE_REPO = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

// Returns `repo` when it is a registry host (with an optional port) and path, e.g. quay.io/me or 127.0.0.1:5000/kvc.
export function checkImageRepo(repo: string): string {
  const trimmed = repo.replace(/\/+$/, '');
  if (!IMAGE_REPO.test(trimmed) || trimmed.length > 200) {
    throw new UsageError(`${JSON.stringify(repo)} is not an image repository`, {
      hint: 'give a registry and path in lower case, without a tag, e.g. quay.io/me/kvc or 127.0.0.1:5000/kvc',
    });
  }
  return trimmed;
}
