// Who signed an image's modules, as its io.kvc.signer label records it, and what a build is given to
// sign with. Pure, tested on data: the label's text, the out-of-date decision (a key change makes
// an image out of date), and the build's secrets, build argument and label.
import { type BuildSecret } from '../runtime/args.js';
import type { CertificateInfo } from './certificate.js';
import { normalizeHexId } from './certificate.js';

// The signer of an image: the key's id as the kernel shows it (/proc/keys), the certificate's
// serial (what modinfo shows as a module's sig_key) and its subject.
export interface Signer {
  readonly keyId: string;
  readonly serial: string;
  readonly subject: string;
}

// The ids of the two build secrets: the Containerfile's signing step mounts them
// (`RUN --mount=type=secret,id=kvc_sign_key --mount=type=secret,id=kvc_sign_cert`) at /run/secrets/<id>.
export const SIGN_SECRET = { key: 'kvc_sign_key', cert: 'kvc_sign_cert' } as const;

// The build argument that tells the Containerfile to sign, and with which key: the key id. It is
// also what keeps podman's layer cache honest: a cached step never knows the secret's content, but
// it does know its build arguments, so a signing step cached for one key is not reused for another.
export const SIGNER_BUILD_ARG = 'KVC_SIGNER';

// A certificate's signer.
export function signerOf(certificate: Pick<CertificateInfo, 'keyId' | 'serial' | 'subject'>): Signer {
  return { keyId: normalizeHexId(certificate.keyId), serial: normalizeHexId(certificate.serial), subject: certificate.subject };
}

// The label's text: "keyid=<hex>; serial=<hex>; subject=<subject>" (the subject last: it may hold anything).
export function signerLabel(signer: Signer): string {
  return `keyid=${signer.keyId}; serial=${signer.serial}; subject=${signer.subject.replace(/[\n\r]/g, ' ')}`;
}

// Reads the label; undefined when absent, empty or not of that form.
export function parseSignerLabel(text: string | undefined): Signer | undefined {
  const match = /^keyid=([0-9a-fA-F:]+); serial=([0-9a-fA-F:]+); subject=(.*)$/.exec(text?.trim() ?? '');
  if (match === null) return undefined;
  return { keyId: normalizeHexId(match[1] as string), serial: normalizeHexId(match[2] as string), subject: match[3] as string };
}

function describe(signer: Signer): string {
  return `${signer.subject} (key id ${signer.keyId})`;
}

// The out-of-date decision: why an image whose label reads `recorded` is not what a build with the
// signing key `wanted` (undefined: none) makes; undefined when it is. An image built unsigned is
// out of date once there is a key, one signed by another key is, whatever the reason of the change;
// a signed image when there is no key any more is kept (a rebuild would only drop its signature,
// and a kernel that needs one makes kvc create a key first).
export function signerMismatch(recorded: string | undefined, wanted: Signer | undefined): string | undefined {
  if (wanted === undefined) return undefined;
  const signer = parseSignerLabel(recorded);
  if (signer === undefined) return `its modules are not signed, and kvc now signs with ${describe(wanted)}`;
  if (signer.keyId !== wanted.keyId || signer.serial !== wanted.serial) return `its modules are signed by ${describe(signer)}, but kvc now signs with ${describe(wanted)}`;
  return undefined;
}

// What a build gets to sign with: the key and certificate as secrets (never in the context, a
// layer or a label), the key id as a build argument, the signer as a label. Without a key: no
// secret, no build argument (the build is the unsigned one it always was), and the label set empty:
// podman gives a build's --label to its intermediate images too, so a step cached from a signed
// build would otherwise pass that build's signer on to an unsigned image (seen in
// test/integration/build-secret.test.js).
export interface SigningInputs {
  readonly secrets: readonly BuildSecret[];
  readonly buildArgs: Readonly<Record<string, string>>;
  // The io.kvc.signer label's value ('' when unsigned).
  readonly signerLabel: string;
}

// What a build is given to sign with `key` (see SigningInputs); without a key, an unsigned build.
export function signingInputs(key: { readonly key: string; readonly cert: string; readonly certificate: Pick<CertificateInfo, 'keyId' | 'serial' | 'subject'> } | undefined): SigningInputs {
  if (key === undefined) return { secrets: [], buildArgs: {}, signerLabel: '' };
  const signer = signerOf(key.certificate);
  return {
    secrets: [{ id: SIGN_SECRET.key, src: key.key }, { id: SIGN_SECRET.cert, src: key.cert }],
    buildArgs: { [SIGNER_BUILD_ARG]: signer.keyId },
    signerLabel: signerLabel(signer),
  };
}
