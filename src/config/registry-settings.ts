// The registry keys (KVC_IMAGE_REPO, KVC_BUILD_FALLBACK in kvc.conf or an instance's .conf; the
// verification and signing keys and TLS in kvc.conf), checked once here; resolved per instance.
import { ConfigError } from '../errors.js';

// One key's value and the file that set it.
type Entry = { readonly value: string; readonly file: string };
// Looks a key up in merged files.
type Lookup = (key: string) => Entry | undefined;

// What one layer (kvc.conf, or an instance's .conf) says; undefined: not set there.
export interface RegistryLayer {
  readonly repo: Entry | undefined;
  readonly fallback: boolean | undefined;
}

// kvc.conf's registry keys: the layer plus the host-wide keys.
export interface GlobalRegistry extends RegistryLayer {
  // KVC_IMAGE_VERIFY_KEY: the sigstore public key (PEM) pulled images must be signed with.
  readonly verifyKey: string | undefined;
  // KVC_IMAGE_SIGN_KEY and KVC_IMAGE_SIGN_PASSPHRASE_FILE: what `kvc publish` signs with.
  readonly signKey: string | undefined;
  readonly signPassphraseFile: string | undefined;
  // KVC_IMAGE_TLS_VERIFY (default yes).
  readonly tlsVerify: boolean;
}

// What kvc does for one instance: pull from `repo` verified with `verifyKey`, then (or not) build.
export interface RegistrySettings {
  readonly repo: string;
  readonly verifyKey: string;
  readonly fallback: boolean;
  readonly tlsVerify: boolean;
}

// A registry and repository, as podman names them (host[:port]/path, lower-case path), no tag.
const REPO = /^[A-Za-z0-9][A-Za-z0-9.-]*(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/;
const PATH = /^\/[^,\0\n]*$/;

// Reads the layer keys of one file's (or the merged global files') entries.
export function registryLayerFrom(lookup: Lookup): RegistryLayer {
  const repo = nonEmpty(lookup('KVC_IMAGE_REPO'));
  if (repo !== undefined && !REPO.test(repo.value)) {
    throw new ConfigError(repo.file, 'KVC_IMAGE_REPO', `${JSON.stringify(repo.value)} is not a registry and repository (host[:port]/path, no scheme, no tag)`, { hint: 'write e.g. KVC_IMAGE_REPO=registry.example.com:5000/kvc' });
  }
  return { repo, fallback: yesNo(lookup, 'KVC_BUILD_FALLBACK') };
}

// Reads kvc.conf's registry keys.
export function globalRegistryFrom(lookup: Lookup): GlobalRegistry {
  return {
    ...registryLayerFrom(lookup),
    verifyKey: absolutePath(lookup, 'KVC_IMAGE_VERIFY_KEY', '/etc/kvc/image-signing.pub'),
    signKey: absolutePath(lookup, 'KVC_IMAGE_SIGN_KEY', '/root/kvc-image-signing.private'),
    signPassphraseFile: absolutePath(lookup, 'KVC_IMAGE_SIGN_PASSPHRASE_FILE', '/root/kvc-image-signing.passphrase'),
    tlsVerify: yesNo(lookup, 'KVC_IMAGE_TLS_VERIFY') ?? true,
  };
}

// The instance's key wins over kvc.conf's; no repository: undefined (kvc builds, as before). A
// repository without a verification key is refused: kvc never loads an image it cannot verify.
export function resolveRegistry(global: GlobalRegistry, instance: RegistryLayer): RegistrySettings | undefined {
  const repo = instance.repo ?? global.repo;
  if (repo === undefined) return undefined;
  if (global.verifyKey === undefined) {
    throw new ConfigError(repo.file, 'KVC_IMAGE_REPO', 'is set, but kvc.conf has no KVC_IMAGE_VERIFY_KEY: kvc loads no pulled image it cannot verify', {
      hint: 'set KVC_IMAGE_VERIFY_KEY in kvc.conf to the sigstore public key the builder signs with (see docs/many-hosts.md)',
    });
  }
  return { repo: repo.value, verifyKey: global.verifyKey, fallback: instance.fallback ?? global.fallback ?? true, tlsVerify: global.tlsVerify };
}

function nonEmpty(entry: Entry | undefined): Entry | undefined {
  return entry === undefined || entry.value.trim() === '' ? undefined : { value: entry.value.trim(), file: entry.file };
}

function yesNo(lookup: Lookup, key: string): boolean | undefined {
  const entry = nonEmpty(lookup(key));
  if (entry === undefined) return undefined;
  if (entry.value !== 'yes' && entry.value !== 'no') throw new ConfigError(entry.file, key, `must be yes or no, not ${JSON.stringify(entry.value)}`, { hint: `write ${key}=yes or ${key}=no` });
  return entry.value === 'yes';
}

function absolutePath(lookup: Lookup, key: string, example: string): string | undefined {
  const entry = nonEmpty(lookup(key));
  if (entry === undefined) return undefined;
  if (!PATH.test(entry.value) || entry.value.split('/').includes('..')) {
    throw new ConfigError(entry.file, key, `${JSON.stringify(entry.value)} is not an absolute path without ".." or ","`, { hint: `write e.g. ${key}=${example}` });
  }
  return entry.value;
}
