// `kvc key enroll`: queues the signing key's certificate in shim's MOK list with `mokutil --import`,
// under a one-time password printed once (or typed by the user), and says what the next boot shows.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelRefusedError, KvcError } from '../errors.js';
import { findOnPath } from '../host/find-on-path.js';
import { MOKMANAGER_STEPS } from './key-advice.js';
import { readKernelKeys } from './keyring-reader.js';
import { importCertificate, oneTimePassword, readMokState } from './mok.js';
import type { SigningKey } from './signing-key.js';
import { environment } from '../environment.js';

// What enroll did.
export type EnrollOutcome = 'trusted-already' | 'pending-already' | 'queued';

// Options: ask (the user types the password at mokutil's prompt), print (where the text goes).
export interface EnrollOptions {
  readonly ask: boolean;
  readonly hostRoot: string;
  readonly print: (text: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

// Queues the key unless the kernel trusts it already or it waits for MokManager already.
export async function enrollKey(key: SigningKey, options: EnrollOptions): Promise<EnrollOutcome> {
  const env = options.env ?? environment();
  const kernel = await readKernelKeys(options.hostRoot, env);
  const rings = kernel.keys?.find((trusted) => trusted.keyId === key.certificate.keyId)?.keyrings;
  if (rings !== undefined && rings.length > 0) {
    options.print(`The running kernel trusts ${key.certificate.subject} already (${rings.join(', ')}): nothing to enrol.`);
    return 'trusted-already';
  }
  const mokutil = findOnPath('mokutil', env['PATH']);
  if (mokutil === undefined) throw new KernelRefusedError('cannot enrol the key: mokutil is not installed', { hint: 'install it (apt-get install mokutil, dnf install mokutil) and run kvc key enroll again' });
  const state = await readMokState(key.certificate.sha1Fingerprint, env);
  if (state.state === 'pending') {
    options.print(`${key.certificate.subject} is queued for enrolment already: reboot; ${MOKMANAGER_STEPS}, with the password given when it was queued.\n(Forgot it? mokutil --revoke-import, then kvc key enroll again.)`);
    return 'pending-already';
  }
  if (state.state === 'unknown') throw new KernelRefusedError(`cannot enrol the key: ${state.note ?? 'the MOK list cannot be read'}`, { hint: 'enrolment needs a UEFI boot through shim; kvc key export gives the certificate to add another way' });
  // mokutil takes DER only; a PEM certificate is handed over as a DER copy.
  const scratch = await mkdtemp(join(tmpdir(), 'kvc-enroll-'));
  try {
    let der = key.cert;
    if (!(await readFile(key.cert)).equals(key.certificate.der)) {
      der = join(scratch, 'signing-cert.der');
      await writeFile(der, key.certificate.der, { mode: 0o600 });
    }
    const password = options.ask ? undefined : oneTimePassword();
    if (password === undefined) options.print('mokutil asks for a one-time password now (typed twice); you will type it once more at the next boot.');
    const result = await importCertificate(mokutil, der, password, env);
    if (result.exitCode !== 0) {
      throw new KvcError(`mokutil --import failed (exit ${result.exitCode})${result.output.trim() === '' ? '' : `: ${result.output.trim().split('\n').pop() ?? ''}`}`, { hint: 'run mokutil --import by hand to see why' });
    }
    options.print([
      `${key.certificate.subject} (key id ${key.certificate.keyId}) is queued for enrolment. Next: reboot this host.`,
      `Then ${MOKMANAGER_STEPS}.`,
      ...(password === undefined ? [] : [`The password: ${password}`, 'It is shown only this once and is needed only at that screen.']),
      'After that boot, kvc key status should say the kernel trusts the key.',
    ].join('\n'));
    return 'queued';
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
