// Finds the module signing key (key-choice.ts's order) and checks it before any use: the private
// key readable by its owner only (root, or the user kvc runs as), the certificate a certificate of
// that very key.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { lstat, readFile, stat } from 'node:fs/promises';
import type { ConfiguredSigningKey } from '../config/signing-settings.js';
import { SigningKeyError } from '../errors.js';
import { parseCertificate, type CertificateInfo } from './certificate.js';
import { chooseSigningKey, describeSource, dkmsKeyPair, kvcKeyPair, type KeyLocations, type KeyPair, type KeySource, type PairPresence } from './key-choice.js';

// A key pair checked and ready to sign with.
export interface SigningKey {
  readonly source: KeySource;
  readonly key: string;
  readonly cert: string;
  readonly certificate: CertificateInfo;
}

// The key kvc signs with now, or undefined when there is none yet (kvc creates its own on need).
export async function findSigningKey(configured: ConfiguredSigningKey | undefined, locations: KeyLocations): Promise<SigningKey | undefined> {
  const choice = chooseSigningKey({
    configured,
    kvc: configured === undefined ? await pairPresence(kvcKeyPair(locations)) : 'none',
    dkms: configured === undefined ? await pairPresence(dkmsKeyPair(locations)) : 'none',
  }, locations);
  if (choice.kind === 'none') return undefined;
  if (choice.kind === 'incomplete') {
    throw new SigningKeyError(choice.missing, `kvc's own signing key is incomplete: ${choice.missing} is missing`, {
      hint: `restore it from a backup; or, if this key was never enrolled, remove ${choice.pair.key} and ${choice.pair.cert} and run kvc key create`,
    });
  }
  return loadKeyPair(choice.pair);
}

// Which files of a pair exist (a dangling link counts as there: loading it then says what is wrong).
export async function pairPresence(pair: KeyPair): Promise<PairPresence> {
  const there = async (path: string) => lstat(path).then(() => true, () => false);
  const [key, cert] = [await there(pair.key), await there(pair.cert)];
  return key && cert ? 'both' : key ? 'key-only' : cert ? 'cert-only' : 'none';
}

// Checks a pair: the key a regular file of root's (or kvc's user's) that no one else may read, not
// encrypted; the certificate parseable and of that key.
export async function loadKeyPair(pair: KeyPair): Promise<SigningKey> {
  const where = describeSource(pair.source);
  const keyStat = await stat(pair.key).catch((error: NodeJS.ErrnoException) => {
    throw new SigningKeyError(pair.key, `${where}: cannot read ${pair.key} (${error.code ?? String(error)})`, { hint: 'kvc runs as root; check the path', cause: error });
  });
  if (!keyStat.isFile()) throw new SigningKeyError(pair.key, `${where}: ${pair.key} is not a file`, { hint: 'name the PEM private key file' });
  const uid = process.getuid?.() ?? 0;
  if (keyStat.uid !== 0 && keyStat.uid !== uid) {
    throw new SigningKeyError(pair.key, `${where}: ${pair.key} belongs to uid ${keyStat.uid}, not root: that user could swap the key kvc signs with`, { hint: `chown root: ${pair.key}` });
  }
  if ((keyStat.mode & 0o077) !== 0) {
    throw new SigningKeyError(pair.key, `${where}: ${pair.key} may be read by others (mode ${(keyStat.mode & 0o777).toString(8)}): anyone who can read it can sign modules this host's kernel trusts`, {
      hint: `chmod 600 ${pair.key}; if others may have read it, make a new key (kvc key create --replace) and enrol that one`,
    });
  }
  let certificate: CertificateInfo;
  let x509: X509Certificate;
  try {
    const bytes = await readFile(pair.cert);
    certificate = parseCertificate(bytes);
    x509 = new X509Certificate(bytes);
  } catch (error) {
    throw new SigningKeyError(pair.cert, `${where}: ${pair.cert} is not a readable X.509 certificate (PEM or DER): ${(error as Error).message}`, { hint: 'name the certificate of the signing key', cause: error });
  }
  let publicKey: Buffer;
  try {
    publicKey = createPublicKey(createPrivateKey(await readFile(pair.key))).export({ type: 'spki', format: 'der' });
  } catch (error) {
    throw new SigningKeyError(pair.key, `${where}: ${pair.key} is not an unencrypted PEM private key: ${(error as Error).message}`, {
      hint: 'kvc signs inside a container build and cannot ask for a passphrase: give it a key without one (root-only)', cause: error,
    });
  }
  if (!publicKey.equals(x509.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new SigningKeyError(pair.cert, `${where}: ${pair.cert} is not the certificate of ${pair.key} (their public keys differ)`, { hint: 'pair the key with its own certificate' });
  }
  return { source: pair.source, key: pair.key, cert: pair.cert, certificate };
}
