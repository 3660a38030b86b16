// May these modules load? The pre-load decision, pure, tested on captured modinfo, /proc/keys and
// keyctl output: each module's signer (modinfo: signer, sig_key) is compared with the keys the
// running kernel trusts (keyrings.ts), and where the kernel would refuse a module (it enforces
// signatures: sig_enforce or lockdown) kvc refuses first, before touching the kernel, with the remedy.
import { normalizeHexId } from './certificate.js';
import type { TrustedKey } from './keyrings.js';
import type { Signer } from './signer.js';

// What modinfo says of one module's signature (undefined fields: it has none).
export interface ModuleSignature {
  // The module's name as the kernel has it (underscores).
  readonly name: string;
  // modinfo's "signer": the CN of the signing certificate's issuer (its subject, for a self-signed one).
  readonly signer: string | undefined;
  // modinfo's "sig_key": the certificate's serial (or its key identifier, for `sign-file -k`).
  readonly sigKey: string | undefined;
  readonly hashAlgo: string | undefined;
}

// How one module stands with the running kernel's keys.
export type ModuleTrust =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'trusted'; readonly keyrings: readonly string[] }
  | { readonly kind: 'untrusted'; readonly subject: string; readonly keyId: string; readonly current: boolean }
  | { readonly kind: 'unknown' };

// What is known besides the module: the keys the kernel trusts (undefined when they could not be
// read), the signer the image's label records, the key kvc signs with now.
export interface TrustFacts {
  readonly trusted: readonly TrustedKey[] | undefined;
  readonly imageSigner: Signer | undefined;
  readonly currentKey: Signer | undefined;
}

const commonName = (subject: string) => /(?:^|, )CN=([^,]*)/.exec(subject)?.[1] ?? subject;

// One module's standing. The kernel finds a module's key by issuer and serial, which /proc/keys
// does not show; kvc matches, in order: the sig_key as a key id (sign-file -k, or a certificate
// without a key identifier, whose id is its serial); the image's recorded signer (serial and name
// the module's, key id then looked up); a trusted key of the signer's name.
export function moduleTrust(module: ModuleSignature, facts: TrustFacts): ModuleTrust {
  if (module.signer === undefined || module.sigKey === undefined) return { kind: 'unsigned' };
  const sigKey = normalizeHexId(module.sigKey);
  if (facts.trusted === undefined) return { kind: 'unknown' };
  const byId = (keyId: string) => facts.trusted!.find((key) => key.keyId === keyId);
  const direct = byId(sigKey);
  if (direct !== undefined) return { kind: 'trusted', keyrings: direct.keyrings };
  const known = [facts.imageSigner, facts.currentKey].find((signer) => signer !== undefined && signer.serial === sigKey && commonName(signer.subject) === module.signer);
  if (known !== undefined) {
    const found = byId(known.keyId);
    if (found !== undefined) return { kind: 'trusted', keyrings: found.keyrings };
    return { kind: 'untrusted', subject: known.subject, keyId: known.keyId, current: facts.currentKey?.keyId === known.keyId };
  }
  const named = facts.trusted.find((key) => key.subject === module.signer || key.subject.endsWith(`: ${module.signer}`));
  if (named !== undefined) return { kind: 'trusted', keyrings: named.keyrings };
  return { kind: 'untrusted', subject: `CN=${module.signer}`, keyId: sigKey, current: false };
}

// The decision for a load: go on (with warnings to log), or refuse with what to do.
export type LoadVerdict =
  | { readonly kind: 'load'; readonly warnings: readonly string[] }
  | { readonly kind: 'refuse'; readonly message: string; readonly hint: string };

// `refusal`: why the kernel refuses modules it cannot verify (signature-policy.ts), undefined when
// it loads them anyway (then only a warning: the kernel marks itself tainted). `rebuild`: the
// command that rebuilds the image.
export function preloadDecision(modules: readonly ModuleSignature[], facts: TrustFacts, refusal: string | undefined, rebuild: string): LoadVerdict {
  const standings = modules.map((module) => ({ module, trust: moduleTrust(module, facts) }));
  const unsigned = standings.filter((entry) => entry.trust.kind === 'unsigned').map((entry) => entry.module.name);
  const untrusted = standings.flatMap((entry) => (entry.trust.kind === 'untrusted' ? [{ name: entry.module.name, trust: entry.trust }] : []));
  if (refusal === undefined) {
    const warnings = untrusted.length === 0 ? [] : [`${untrusted.map((entry) => entry.name).join(', ')}: signed by a key this kernel does not trust (${untrusted[0]!.trust.subject}); it loads them anyway (it does not enforce signatures) and marks itself tainted`];
    return { kind: 'load', warnings };
  }
  if (unsigned.length > 0) {
    return {
      kind: 'refuse',
      message: `${unsigned.join(', ')} ${unsigned.length > 1 ? 'are' : 'is'} not signed, and ${refusal}; nothing was loaded`,
      hint: `rebuild the image, signed (kvc signs with its key, creating one if there is none): ${rebuild}; then run kvc key enroll and reboot if kvc key status says the key is not trusted yet`,
    };
  }
  if (untrusted.length > 0) {
    const first = untrusted[0]!.trust;
    const names = untrusted.map((entry) => entry.name).join(', ');
    const key = `key "${first.subject}" (key id ${first.keyId})`;
    if (first.current) {
      return { kind: 'refuse', message: `${key} is not enrolled: run kvc key enroll and reboot (${names} ${untrusted.length > 1 ? 'are' : 'is'} signed with it, and ${refusal}); nothing was loaded`, hint: 'kvc key enroll, then reboot and confirm the key in MokManager; kvc key status shows where it stands' };
    }
    return {
      kind: 'refuse',
      message: `${key} is not enrolled, and it is not the key kvc signs with now (${names} ${untrusted.length > 1 ? 'are' : 'is'} signed with it, and ${refusal}); nothing was loaded`,
      hint: `rebuild the image with kvc's key: ${rebuild}; then, unless kvc key status says the kernel trusts that key, run kvc key enroll and reboot`,
    };
  }
  return { kind: 'load', warnings: [] };
}

// The kernel's words when it refused a module's signature at load time (modprobe passes them on):
// a signature that is broken or made with another key than it names (EKEYREJECTED, EBADMSG), or a
// key it does not have (ENOKEY). undefined for any other failure.
export function signatureRejection(output: string): string | undefined {
  if (/Key was rejected by service/i.test(output)) return 'the kernel rejected its signature (Key was rejected by service): it does not match the module, which was changed after signing, or the key it names';
  if (/Bad message/i.test(output)) return 'the kernel could not read its signature (Bad message): the signature is malformed';
  if (/Required key not available/i.test(output)) return 'the kernel does not trust the key it is signed with (Required key not available)';
  return undefined;
}
