// The registry keys (KVC_IMAGE_REPO, KVC_BUILD_FALLBACK in kvc.conf or an instance's .conf; the
// verification and signing keys and TLS in kvc.conf), checked once here; resolved per instance.
import { ConfigError } from '../errors.js';
import type { RuntimeName } from '../runtime/runtime-name.js';

// One key's value and the file that set it.
type Entry = { readonly value: string; readonly file: string };
// Looks a key up in merged files.
type Lookup = (key: string) => Entry | undefined;

// What one layer (kvc.conf, or an instance's .conf) says; undefined: not set there.
export interface RegistryLayer {
  readonly repo: Entry | undefined;
  readonly fallback: boolean | undefined;
}

// What `kvc publish` signs with: a sigstore private key file, or a GPG key (its fingerprint) in a GnuPG home.
export type SignKey = { readonly kind: 'sigstore'; readonly path: string } | { readonly kind: 'gpg'; readonly fingerprint: string };

// kvc.conf's registry keys: the layer plus the host-wide keys.
export interface GlobalRegistry extends RegistryLayer {
  // KVC_IMAGE_VERIFY_KEY: the public key (sigstore PEM, or OpenPGP) pulled images must be signed with.
  readonly verifyKey: string | undefined;
  // KVC_IMAGE_SIGNATURES: where GPG signatures are read from (and, on the builder, written to).
  readonly signatures: string | undefined;
  // KVC_IMAGE_SIGN_KEY, KVC_IMAGE_SIGN_PASSPHRASE_FILE, KVC_IMAGE_SIGN_GNUPGHOME: what `kvc publish` signs with.
  readonly signKey: SignKey | undefined;
  readonly signPassphraseFile: string | undefined;
  readonly signGnupgHome: string | undefined;
  // KVC_IMAGE_TLS_VERIFY (default yes).
  readonly tlsVerify: boolean;
}

// What kvc does for one instance: pull from `repo` verified with `verifyKey`, then (or not) build.
export interface RegistrySettings {
  readonly repo: string;
  readonly verifyKey: string;
  readonly signatures: string | undefined;
  readonly fallback: boolean;
  readonly tlsVerify: boolean;
}

// A registry and repository, as podman names them (host[:port]/path, lower-case path), no tag.
const REPO = /^[A-Za-z0-9][A-Za-z0-9.-]*(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/;
const PATH = /^\/[^,\0\n]*$/;
// A GPG key's fingerprint (v4: 40 hex digits; spaces as gpg prints them are allowed).
const FINGERPRINT = /^[0-9A-Fa-f]{40}$/;
// A lookaside signature store: a folder (file:///path) or a web server (http(s)://host[:port]/path).
const SIGNATURES = /^(file:\/\/\/[^\0\n"]*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[^\s"]*)?)$/;

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
    signatures: signaturesUrl(lookup),
    signKey: signKeyFrom(lookup),
    signPassphraseFile: absolutePath(lookup, 'KVC_IMAGE_SIGN_PASSPHRASE_FILE', '/root/kvc-image-signing.passphrase'),
    signGnupgHome: absolutePath(lookup, 'KVC_IMAGE_SIGN_GNUPGHOME', '/root/.gnupg'),
    tlsVerify: yesNo(lookup, 'KVC_IMAGE_TLS_VERIFY') ?? true,
  };
}

// The instance's key wins over kvc.conf's; no repository: undefined (kvc builds, as before). A
// repository without a verification key is refused: kvc never loads an image it cannot verify. So
// is one with docker as the runtime (when the caller names it): docker has no signature policy to
// verify a pull with and signs no push, and that is said when the settings are read, not at a pull.
export function resolveRegistry(global: GlobalRegistry, instance: RegistryLayer, runtime?: RuntimeName): RegistrySettings | undefined {
  const repo = instance.repo ?? global.repo;
  if (repo === undefined) return undefined;
  if (runtime === 'docker') {
    throw new ConfigError(repo.file, 'KVC_IMAGE_REPO', 'is set, but the container runtime is docker: kvc verifies pulled images and signs published ones with podman only (docker has no signature policy and signs nothing)', {
      hint: 'set KVC_CONTAINER_RUNTIME=podman in kvc.conf (and drop --runtime docker), or remove KVC_IMAGE_REPO to build on this host',
    });
  }
  if (global.verifyKey === undefined) {
    throw new ConfigError(repo.file, 'KVC_IMAGE_REPO', 'is set, but kvc.conf has no KVC_IMAGE_VERIFY_KEY: kvc loads no pulled image it cannot verify', {
      hint: 'set KVC_IMAGE_VERIFY_KEY in kvc.conf to the public key the builder signs with, GPG or sigstore (see docs/many-hosts.md)',
    });
  }
  return { repo: repo.value, verifyKey: global.verifyKey, signatures: global.signatures, fallback: instance.fallback ?? global.fallback ?? true, tlsVerify: global.tlsVerify };
}

// KVC_IMAGE_SIGN_KEY: a GPG fingerprint (40 hex digits) or the absolute path of a sigstore private key.
function signKeyFrom(lookup: Lookup): SignKey | undefined {
  const entry = nonEmpty(lookup('KVC_IMAGE_SIGN_KEY'));
  if (entry === undefined) return undefined;
  const compact = entry.value.replace(/\s+/g, '');
  if (FINGERPRINT.test(compact)) return { kind: 'gpg', fingerprint: compact.toUpperCase() };
  if (/^(0x)?[0-9A-Fa-f]{8,39}$/.test(compact)) {
    throw new ConfigError(entry.file, 'KVC_IMAGE_SIGN_KEY', `${JSON.stringify(entry.value)} looks like a short GPG key id: kvc needs the whole fingerprint`, { hint: 'write the 40 hex digits `gpg --list-secret-keys --with-colons` shows on its fpr line' });
  }
  const path = absolutePath(lookup, 'KVC_IMAGE_SIGN_KEY', '/root/kvc-image-signing.private (sigstore) or a GPG fingerprint of 40 hex digits');
  return path === undefined ? undefined : { kind: 'sigstore', path };
}

// KVC_IMAGE_SIGNATURES: file:///DIR or http(s)://HOST/PATH, without a trailing slash.
function signaturesUrl(lookup: Lookup): string | undefined {
  const entry = nonEmpty(lookup('KVC_IMAGE_SIGNATURES'));
  if (entry === undefined) return undefined;
  const url = entry.value.replace(/\/+$/, '');
  if (!SIGNATURES.test(url) || url.split('/').includes('..')) {
    throw new ConfigError(entry.file, 'KVC_IMAGE_SIGNATURES', `${JSON.stringify(entry.value)} is not a file:///DIR or http(s)://HOST/PATH URL`, { hint: 'write e.g. KVC_IMAGE_SIGNATURES=file:///var/lib/kvc/signatures (builder, or a shared mount) or KVC_IMAGE_SIGNATURES=http://builder.example.com:8080/signatures (nodes)' });
  }
  return url;
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
