// Which kind of container signature a fleet uses, decided from the keys the operator configured:
// GPG "simple signing" (an OpenPGP public key; the signatures in a lookaside store, a file:// folder
// or an http(s) URL) or sigstore (a PEM public key; the signatures beside the images in the
// registry). Pure: decides from the keys' bytes and the settings, reads nothing.
import { ConfigError } from '../errors.js';

// The two kinds podman's trust policy checks: signedBy (GPGKeys) and sigstoreSigned.
export type SignatureKind = 'gpg' | 'sigstore';

// Where a fleet's signatures are: in the registry (sigstore attachments) or a lookaside store URL.
export type SignatureStore = { readonly kind: 'sigstore' } | { readonly kind: 'gpg'; readonly url: string };

const PEM_PUBLIC = /-----BEGIN PUBLIC KEY-----/g;
const PGP_PUBLIC = '-----BEGIN PGP PUBLIC KEY BLOCK-----';

// The kind of KVC_IMAGE_VERIFY_KEY's file: one PEM public key (sigstore) or an OpenPGP public key,
// armored or binary (GPG). A private key of either kind, or anything else, is refused.
export function verifyKeyKind(data: Uint8Array, path: string): SignatureKind {
  const text = Buffer.from(data).toString('latin1');
  if (/PRIVATE KEY/.test(text) || isOpenPgpPacket(data, [5, 7])) {
    throw new ConfigError(path, 'KVC_IMAGE_VERIFY_KEY', 'holds a private key: nodes need only the public one', { hint: 'give nodes the public key (the .pub of a sigstore pair, or `gpg --export --armor FINGERPRINT`), and keep the private key on the builder' });
  }
  if (text.includes(PGP_PUBLIC) && text.includes('-----END PGP PUBLIC KEY BLOCK-----')) return 'gpg';
  if (isOpenPgpPacket(data, [6])) return 'gpg';
  if ((text.match(PEM_PUBLIC) ?? []).length === 1 && text.includes('-----END PUBLIC KEY-----')) return 'sigstore';
  throw new ConfigError(path, 'KVC_IMAGE_VERIFY_KEY', 'is neither one PEM public key (-----BEGIN PUBLIC KEY-----, sigstore) nor an OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK----- or binary, GPG)', {
    hint: 'copy there the builder\'s sigstore public key (the .pub of the pair), or its GPG public key (gpg --export --armor FINGERPRINT)',
  });
}

// Whether the data starts with an OpenPGP packet of one of the tags (RFC 4880 4.2: old or new format).
function isOpenPgpPacket(data: Uint8Array, tags: readonly number[]): boolean {
  const first = data[0];
  if (first === undefined || (first & 0x80) === 0) return false;
  const tag = (first & 0x40) !== 0 ? first & 0x3f : (first >> 2) & 0x0f;
  return tags.includes(tag);
}

// Where the signatures of that kind are read from: GPG needs KVC_IMAGE_SIGNATURES; sigstore keeps
// them in the registry, so a KVC_IMAGE_SIGNATURES beside a sigstore key is a slip, said so.
export function signatureStore(kind: SignatureKind, signatures: string | undefined, keyPath: string): SignatureStore {
  if (kind === 'sigstore') {
    if (signatures !== undefined) {
      throw new ConfigError(keyPath, 'KVC_IMAGE_SIGNATURES', `is set, but KVC_IMAGE_VERIFY_KEY (${keyPath}) is a sigstore key, whose signatures are in the registry beside the images`, { hint: 'remove KVC_IMAGE_SIGNATURES, or give a GPG public key as KVC_IMAGE_VERIFY_KEY' });
    }
    return { kind };
  }
  if (signatures === undefined) {
    throw new ConfigError(keyPath, 'KVC_IMAGE_SIGNATURES', `is not set, but KVC_IMAGE_VERIFY_KEY (${keyPath}) is a GPG key, whose signatures are kept outside the registry`, { hint: 'set KVC_IMAGE_SIGNATURES to where the builder\'s signatures are: file:///DIR (a shared mount) or http(s)://HOST/PATH (served from the builder); see docs/many-hosts.md' });
  }
  return { kind, url: signatures };
}

// The builder writes GPG signatures into a folder: KVC_IMAGE_SIGNATURES must be a file:// URL
// there (the folder nodes read directly, or one a web server serves to them). Returns the folder.
export function publishSignatureDir(store: SignatureStore, file: string): string | undefined {
  if (store.kind === 'sigstore') return undefined;
  if (!store.url.startsWith('file:///')) {
    throw new ConfigError(file, 'KVC_IMAGE_SIGNATURES', `is ${store.url}: kvc publish writes GPG signatures into a folder, so on the builder it must be file:///DIR`, { hint: 'on the builder write KVC_IMAGE_SIGNATURES=file:///var/lib/kvc/signatures (or a shared mount) and serve that folder to the nodes over http(s)' });
  }
  return store.url.slice('file://'.length);
}
