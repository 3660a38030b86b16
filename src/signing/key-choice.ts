// Which key kvc signs modules with: the choice order, pure, tested on data.
//   1. KVC_SIGN_KEY and KVC_SIGN_CERT of kvc.conf, when set;
//   2. kvc's own key, when it exists (<key dir>/signing-key.pem and signing-cert.der);
//   3. DKMS's key, when both files exist (/var/lib/dkms/mok.key and mok.pub): a key many hosts
//      have enrolled already;
//   4. none: kvc creates its own on first need (a kernel that refuses unsigned modules) or on
//      `kvc key create`.
// kvc's own key comes before DKMS's so that a DKMS installed later does not change the key a host
// has enrolled.
import { join } from 'node:path';
import type { ConfiguredSigningKey } from '../config/signing-settings.js';

// Where the keys live (tests give temporary folders).
export interface KeyLocations {
  // kvc's own key: root-only folder, /var/lib/kvc/keys.
  readonly keyDir: string;
  // DKMS's: /var/lib/dkms.
  readonly dkmsDir: string;
}

// The default places.
export const DEFAULT_KEY_LOCATIONS: KeyLocations = { keyDir: '/var/lib/kvc/keys', dkmsDir: '/var/lib/dkms' };

// Where a key came from.
export type KeySource = 'config' | 'kvc' | 'dkms';

// A private key file and its certificate.
export interface KeyPair {
  readonly source: KeySource;
  readonly key: string;
  readonly cert: string;
}

// kvc's own key pair's files.
export function kvcKeyPair(locations: KeyLocations): KeyPair {
  return { source: 'kvc', key: join(locations.keyDir, 'signing-key.pem'), cert: join(locations.keyDir, 'signing-cert.der') };
}

// DKMS's key pair's files (its certificate is DER).
export function dkmsKeyPair(locations: KeyLocations): KeyPair {
  return { source: 'dkms', key: join(locations.dkmsDir, 'mok.key'), cert: join(locations.dkmsDir, 'mok.pub') };
}

// Which of a pair's two files exist.
export type PairPresence = 'both' | 'none' | 'key-only' | 'cert-only';

// What the choice looks at.
export interface KeyChoiceFacts {
  readonly configured: ConfiguredSigningKey | undefined;
  readonly kvc: PairPresence;
  readonly dkms: PairPresence;
}

// The choice: a pair to use, or none yet. A half-present kvc key is not skipped (signing with
// DKMS's instead would change the key silently): the caller reports it. A half-present DKMS key is
// DKMS's business and is passed over.
export type KeyChoice =
  | { readonly kind: 'use'; readonly pair: KeyPair }
  | { readonly kind: 'incomplete'; readonly pair: KeyPair; readonly missing: string }
  | { readonly kind: 'none' };

// Applies the order above.
export function chooseSigningKey(facts: KeyChoiceFacts, locations: KeyLocations): KeyChoice {
  if (facts.configured !== undefined) return { kind: 'use', pair: { source: 'config', key: facts.configured.key, cert: facts.configured.cert } };
  const own = kvcKeyPair(locations);
  if (facts.kvc === 'both') return { kind: 'use', pair: own };
  if (facts.kvc !== 'none') return { kind: 'incomplete', pair: own, missing: facts.kvc === 'key-only' ? own.cert : own.key };
  if (facts.dkms === 'both') return { kind: 'use', pair: dkmsKeyPair(locations) };
  return { kind: 'none' };
}

// Words for a source, in messages.
export function describeSource(source: KeySource): string {
  return { config: 'the key kvc.conf names (KVC_SIGN_KEY)', kvc: 'kvc\'s own key', dkms: 'DKMS\'s key' }[source];
}
