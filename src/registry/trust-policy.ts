// The signature policy kvc passes to its pulls (podman --signature-policy): the host's own policy
// with one scope added for kvc's repository, which must carry a signature by the configured key
// (GPG simple signing or sigstore) on top of whatever the host already asks there; and the
// registries.d file saying where that repository's signatures are. Pure: renders text, writes nothing.
import { ConfigError } from '../errors.js';
import type { SignatureKind, SignatureStore } from './signature-kind.js';

// One requirement of containers-policy.json(5), kept as the host wrote it.
type Requirement = Readonly<Record<string, unknown>>;

// The fields of a policy kvc reads and writes; others are kept as they are.
interface Policy {
  readonly default: readonly Requirement[];
  readonly transports?: Readonly<Record<string, Readonly<Record<string, readonly Requirement[]>>>>;
}

// The key pulled images must be signed with, and its kind.
export interface VerifyKey {
  readonly kind: SignatureKind;
  readonly path: string;
}

// The requirement kvc adds: signed by the key, for exactly the name pulled (or its digest).
export function signatureRequirement(key: VerifyKey): Requirement {
  const identity = { signedIdentity: { type: 'matchRepoDigestOrExact' } };
  return key.kind === 'gpg' ? { type: 'signedBy', keyType: 'GPGKeys', keyPath: key.path, ...identity } : { type: 'sigstoreSigned', keyPath: key.path, ...identity };
}

// The host policy (the text of /etc/containers/policy.json) with `repo` requiring what applied to
// it before (the most specific scope of the host's that covers it, as podman chooses) and a
// signature by `key`: the requirements of one scope must all hold, so nothing the
// host asked is dropped, and every other scope is left as it was.
export function policyForRepo(hostPolicyText: string, hostPolicyPath: string, repo: string, key: VerifyKey): string {
  const host = parsePolicy(hostPolicyText, hostPolicyPath);
  const docker = host.transports?.['docker'] ?? {};
  const inherited = docker[coveringScope(Object.keys(docker), repo) ?? ''] ?? host.default;
  const ours = signatureRequirement(key);
  const requirements = [...inherited.filter((requirement) => requirement['type'] !== 'insecureAcceptAnything'), ours];
  const policy = { ...host, transports: { ...host.transports, docker: { ...docker, [repo]: requirements } } };
  return `${JSON.stringify(policy, null, 2)}\n`;
}

// The scope podman applies to `repo` of those given: the repository itself, then each of its
// parent namespaces, then its host[:port], then a *.domain wildcard, most specific first;
// undefined when none covers it (then the docker transport's "" scope or the default applies).
export function coveringScope(scopes: readonly string[], repo: string): string | undefined {
  const parts = repo.split('/');
  for (let length = parts.length; length >= 1; length -= 1) {
    const candidate = parts.slice(0, length).join('/');
    if (scopes.includes(candidate)) return candidate;
  }
  const host = (parts[0] ?? '').replace(/:\d+$/, '');
  const labels = host.split('.');
  for (let start = 1; start < labels.length; start += 1) {
    const wildcard = `*.${labels.slice(start).join('.')}`;
    if (scopes.includes(wildcard)) return wildcard;
  }
  return scopes.includes('') ? '' : undefined;
}

// Checks the fields kvc relies on; a policy podman would refuse is refused here with its path.
function parsePolicy(text: string, path: string): Policy {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, undefined, 'is not JSON', { hint: 'fix the host\'s signature policy (containers-policy.json(5)); kvc adds its repository to a copy of it', cause: error });
  }
  const isRequirements = (entry: unknown): boolean => Array.isArray(entry) && entry.every((item) => typeof item === 'object' && item !== null && typeof (item as Requirement)['type'] === 'string');
  const policy = value as Record<string, unknown>;
  const transports = policy['transports'];
  const scopesOk = transports === undefined || (typeof transports === 'object' && transports !== null
    && Object.values(transports).every((scopes) => typeof scopes === 'object' && scopes !== null && Object.values(scopes).every(isRequirements)));
  if (typeof value !== 'object' || value === null || !isRequirements(policy['default']) || !scopesOk) {
    throw new ConfigError(path, undefined, 'is not a signature policy: it needs a "default" list of requirements, and "transports" of scopes with lists of requirements', { hint: 'see containers-policy.json(5); the packaged file has {"default": [{"type": "insecureAcceptAnything"}]}' });
  }
  return value as Policy;
}

// registries.d(5) for the repository alone: where its signatures are. Sigstore: beside the image
// in the registry. GPG: the lookaside store; a file:// one is also where a builder's
// `podman push --sign-by` writes them (lookaside-staging). It says where signatures are; it trusts nothing.
export function registriesDForRepo(repo: string, store: SignatureStore): string {
  const head = [`# Written by kvc: where the signatures of KVC_IMAGE_REPO are (${store.kind === 'sigstore' ? 'beside the images' : store.url}).`, 'docker:', `  ${JSON.stringify(repo)}:`];
  const body = store.kind === 'sigstore' ? ['    use-sigstore-attachments: true']
    : [`    lookaside: ${JSON.stringify(store.url)}`, ...(store.url.startsWith('file:///') ? [`    lookaside-staging: ${JSON.stringify(store.url)}`] : [])];
  return [...head, ...body, ''].join('\n');
}

// The registries.d file's name for a repository (one per repository, kvc's prefix).
export function registriesDFileName(repo: string): string {
  return `kvc-${repo.replace(/[^A-Za-z0-9.-]+/g, '_')}.yaml`;
}

// The policy file's name for a repository, in kvc's run folder.
export function policyFileName(repo: string): string {
  return `policy-${registriesDFileName(repo).replace(/\.yaml$/, '.json')}`;
}
