// What `kvc publish` signs with, from kvc.conf's signing keys: checked to be complete and of the
// same kind as KVC_IMAGE_VERIFY_KEY (a builder signing what its nodes could not verify is a slip).
// Pure: decides from the settings.
import type { GlobalRegistry } from '../config/registry-settings.js';
import { ConfigError } from '../errors.js';
import type { PushSigning } from '../runtime/args.js';
import type { SignatureKind } from './signature-kind.js';

// The push's signing options, or a configuration error saying which key is missing or mismatched.
export function pushSigning(file: string, global: GlobalRegistry, verifyKind: SignatureKind, digestFile: string): PushSigning {
  const key = global.signKey;
  if (key === undefined) {
    throw new ConfigError(file, 'KVC_IMAGE_SIGN_KEY', 'is not set: kvc publishes only signed images', { hint: 'set it to a GPG key\'s fingerprint (with KVC_IMAGE_SIGN_GNUPGHOME) or a sigstore private key (with KVC_IMAGE_SIGN_PASSPHRASE_FILE); see docs/many-hosts.md' });
  }
  if (key.kind !== verifyKind) {
    throw new ConfigError(file, 'KVC_IMAGE_SIGN_KEY', `is a ${key.kind === 'gpg' ? 'GPG' : 'sigstore'} key, but KVC_IMAGE_VERIFY_KEY is a ${verifyKind === 'gpg' ? 'GPG' : 'sigstore'} key: nodes could not verify what this builder signs`, { hint: 'sign and verify with the two halves of one key pair' });
  }
  if (key.kind === 'gpg') {
    if (global.signGnupgHome === undefined) {
      throw new ConfigError(file, 'KVC_IMAGE_SIGN_GNUPGHOME', `is not set: KVC_IMAGE_SIGN_KEY is a GPG fingerprint, and podman needs the GnuPG home holding its secret key`, { hint: 'write e.g. KVC_IMAGE_SIGN_GNUPGHOME=/root/.gnupg' });
    }
    return { kind: 'gpg', fingerprint: key.fingerprint, gnupgHome: global.signGnupgHome, ...(global.signPassphraseFile === undefined ? {} : { passphraseFile: global.signPassphraseFile }), digestFile };
  }
  if (global.signPassphraseFile === undefined) {
    throw new ConfigError(file, 'KVC_IMAGE_SIGN_PASSPHRASE_FILE', 'is not set: a sigstore private key is encrypted, and podman needs its passphrase', { hint: 'write e.g. KVC_IMAGE_SIGN_PASSPHRASE_FILE=/root/kvc-image-signing.passphrase' });
  }
  return { kind: 'sigstore', privateKey: key.path, passphraseFile: global.signPassphraseFile, digestFile };
}
