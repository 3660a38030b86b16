// What kvc needs to know of a module signing certificate: who it names, the ids the kernel and
// modinfo show for it, and its bytes in DER (what mokutil enrols). Pure on the file's bytes.
import { X509Certificate } from 'node:crypto';
import { subjectKeyIdentifier } from './der.js';

// id-kp-codeSigning: the extended key usage sign-file's certificates carry.
export const CODE_SIGNING_OID = '1.3.6.1.5.5.7.3.3';

// A parsed certificate.
export interface CertificateInfo {
  // The subject as one line, e.g. "CN=kvc module signing key (host1)".
  readonly subject: string;
  // The subject's CN, as the kernel and MokManager name the key ('' when it has none).
  readonly commonName: string;
  // The issuer's CN: what modinfo shows as a module's "signer".
  readonly issuerCommonName: string;
  // The serial number, lower-case hex without leading zeros: what modinfo shows as "sig_key".
  readonly serial: string;
  // The id the kernel shows in /proc/keys: the subject key identifier, else the serial (hex,
  // lower case, leading zero bytes dropped).
  readonly keyId: string;
  // Whether its extended key usage allows code signing (or it has none, which allows anything).
  readonly codeSigning: boolean;
  readonly hasExtendedKeyUsage: boolean;
  // SHA-1 fingerprint as mokutil prints it ("AA:BB:…"), upper case.
  readonly sha1Fingerprint: string;
  readonly der: Buffer;
}

// Parses a PEM or DER certificate; throws node's error on anything else.
export function parseCertificate(bytes: Buffer): CertificateInfo {
  const certificate = new X509Certificate(bytes);
  const usage = certificate.keyUsage as string[] | undefined;
  const serial = normalizeHexId(certificate.serialNumber);
  return {
    subject: oneLineName(certificate.subject),
    commonName: commonNameOf(certificate.subject),
    issuerCommonName: commonNameOf(certificate.issuer),
    serial,
    // Without leading zero bytes, as keyrings.ts reads ids from /proc/keys and modinfo's sig_key:
    // one form everywhere (a key id starting with 00 once made a fresh image look out of date).
    keyId: normalizeHexId(subjectKeyIdentifier(certificate.raw) ?? serial),
    codeSigning: usage === undefined || usage.includes(CODE_SIGNING_OID),
    hasExtendedKeyUsage: usage !== undefined,
    sha1Fingerprint: certificate.fingerprint.toUpperCase(),
    der: certificate.raw,
  };
}

// A key id or serial as hex digits only, lower case, without leading zero bytes ("00:AB:cd" → "abcd").
export function normalizeHexId(text: string): string {
  return text.replace(/[^0-9A-Fa-f]/g, '').toLowerCase().replace(/^(00)+(?=.)/, '');
}

// node prints names one attribute a line ("CN=x\nO=y"); kvc shows them on one.
function oneLineName(name: string): string {
  return name.split('\n').filter((part) => part !== '').join(', ');
}

function commonNameOf(name: string): string {
  return name.split('\n').find((part) => part.startsWith('CN='))?.slice(3) ?? '';
}
