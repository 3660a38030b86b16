// Creates kvc's own module signing key with the host's openssl: RSA 2048 and a self-signed X.509
// certificate with the code-signing extended key usage (as DKMS makes its mok.key/mok.pub), the
// key root-only in a root-only folder. Written under a temporary name in that folder and linked
// into place, so no one sees a half-written key and two creators never overwrite each other.
import { chmod, link, lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SigningKeyError } from '../errors.js';
import { findOnPath } from '../host/find-on-path.js';
import { kvcKeyPair, type KeyLocations } from './key-choice.js';
import { loadKeyPair, pairPresence, type SigningKey } from './signing-key.js';
import { environment } from '../environment.js';

// The certificate's common name: kvc's and the host's, as MokManager and /proc/keys will show it
// (characters openssl's -subj would read specially are left out; at most 64, X.509's limit).
export function keyCommonName(host: string): string {
  const clean = host.replace(/[^A-Za-z0-9._-]/g, '').slice(0, 30);
  return `kvc module signing key${clean === '' ? '' : ` (${clean})`}`;
}

// The openssl command: a new key and certificate, 100 years (the kernel ignores validity dates).
export function opensslCreateArgs(keyOut: string, certOut: string, commonName: string): string[] {
  return [
    'req', '-new', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-days', '36500',
    '-subj', `/CN=${commonName}/`, '-addext', 'extendedKeyUsage=codeSigning',
    '-keyout', keyOut, '-outform', 'DER', '-out', certOut,
  ];
}

// Creates kvc's own key; refuses when one is there, unless `replace`: the old files are then kept
// beside the new as <name>.replaced-<time>, moved only once the new key is made.
export async function createKvcKey(locations: KeyLocations, options: { replace?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<SigningKey> {
  const pair = kvcKeyPair(locations);
  if (options.replace !== true && (await pairPresence(pair)) !== 'none') {
    throw new SigningKeyError(pair.key, `kvc's own signing key exists already (${pair.key})`, { hint: 'kvc key status shows it; kvc key create --replace makes a new one (which must then be enrolled)' });
  }
  const openssl = findOnPath('openssl', options.env?.['PATH'] ?? environment()['PATH']);
  if (openssl === undefined) throw new SigningKeyError(undefined, 'cannot create a signing key: openssl is not installed', { hint: 'install it (apt-get install openssl, dnf install openssl) and try again' });
  await mkdir(locations.keyDir, { recursive: true, mode: 0o700 });
  await assertPrivateFolder(locations.keyDir);
  const scratch = await mkdtemp(join(locations.keyDir, '.new-'));
  try {
    const key = join(scratch, 'signing-key.pem');
    const cert = join(scratch, 'signing-cert.der');
    const result = await execa(openssl, opensslCreateArgs(key, cert, keyCommonName(hostname())), { reject: false, timeout: 120_000, stdin: 'ignore', ...(options.env === undefined ? {} : { env: options.env }) });
    if (result.exitCode !== 0) throw new SigningKeyError(undefined, `openssl could not create the key: ${String(result.stderr).trim().split('\n').pop() ?? ''}`, { hint: 'see openssl req(1)' });
    await chmod(key, 0o600);
    await chmod(cert, 0o600);
    if (options.replace === true) {
      const suffix = `.replaced-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`;
      for (const path of [pair.key, pair.cert]) await rename(path, `${path}${suffix}`).catch((error: NodeJS.ErrnoException) => { if (error.code !== 'ENOENT') throw error; });
    }
    // link() fails where a file exists: a key another kvc made meanwhile is never overwritten.
    await link(key, pair.key).catch((error: NodeJS.ErrnoException) => {
      throw new SigningKeyError(pair.key, `could not put the new key in place (${error.code ?? String(error)})`, { hint: 'another kvc may have made one just now: kvc key status', cause: error });
    });
    await link(cert, pair.cert);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return loadKeyPair(pair);
}

// The key folder must be a real folder of root's (or kvc's user's) that only its owner may enter.
async function assertPrivateFolder(dir: string): Promise<void> {
  const info = await lstat(dir);
  const uid = process.getuid?.() ?? 0;
  if (!info.isDirectory() || (info.uid !== 0 && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    throw new SigningKeyError(dir, `${dir} is not a folder only root may enter (mode ${(info.mode & 0o777).toString(8)}, owner ${info.uid}${info.isSymbolicLink() ? ', a symbolic link' : ''})`, {
      hint: `make it one: chown root: ${dir} && chmod 700 ${dir}`,
    });
  }
}
