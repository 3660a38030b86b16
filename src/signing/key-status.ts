// `kvc key status`: reads Secure Boot, lockdown, the signing key, the kernel's keyrings and the
// MOK lists, and reports them with key-advice.ts's conclusion.
import type { ConfiguredSigningKey } from '../config/signing-settings.js';
import { describeError, KvcError } from '../errors.js';
import { lockdownMode, readSignatureFacts, secureBootState, unsignedModulesRefused } from '../kernel/signature-policy.js';
import { describeSource, type KeyLocations } from './key-choice.js';
import { keyAdvice, type Enrolment, type KeyFacts } from './key-advice.js';
import { readKernelKeys } from './keyring-reader.js';
import { readMokState, type MokState } from './mok.js';
import { findSigningKey, type SigningKey } from './signing-key.js';
import { environment } from '../environment.js';

// The report (the JSON of `kvc key status --json`).
export interface KeyStatus {
  readonly secureBoot: 'on' | 'off' | 'unknown';
  readonly lockdown: string | null;
  readonly unsignedRefused: string | null;
  readonly key: { readonly source: string; readonly key: string; readonly cert: string; readonly subject: string; readonly keyId: string; readonly serial: string; readonly sha1: string } | null;
  readonly keyProblem: string | null;
  readonly trustedIn: readonly string[] | null;
  readonly mok: MokState;
  readonly enrolment: Enrolment;
  readonly next: string;
  readonly notes: readonly string[];
}

// Gathers the status.
export async function gatherKeyStatus(hostRoot: string, configured: ConfiguredSigningKey | undefined, locations: KeyLocations, env: NodeJS.ProcessEnv = environment()): Promise<KeyStatus> {
  const signature = await readSignatureFacts(hostRoot);
  const secureBoot = secureBootState(signature);
  const lockdown = lockdownMode(signature);
  const refusal = unsignedModulesRefused(signature);
  const notes: string[] = [];
  let key: SigningKey | undefined;
  let keyProblem: KvcError | undefined;
  try {
    key = await findSigningKey(configured, locations);
  } catch (error) {
    if (!(error instanceof KvcError)) throw error;
    keyProblem = error;
  }
  let trustedIn: string[] | undefined;
  let mok: MokState = 'unknown';
  if (key !== undefined) {
    const kernel = await readKernelKeys(hostRoot, env);
    if (kernel.note !== undefined) notes.push(kernel.note);
    trustedIn = kernel.keys === undefined ? undefined : [...(kernel.keys.find((trusted) => trusted.keyId === key!.certificate.keyId)?.keyrings ?? [])];
    const reading = await readMokState(key.certificate.sha1Fingerprint, env);
    if (reading.note !== undefined) notes.push(reading.note);
    mok = reading.state;
  }
  const facts: KeyFacts = {
    secureBoot,
    lockdown,
    refusal,
    key: keyProblem !== undefined ? { error: describeError(keyProblem), hint: keyProblem.hint } : key === undefined ? 'none' : { source: key.source, subject: key.certificate.subject, keyId: key.certificate.keyId },
    trustedIn,
    mok,
  };
  const advice = keyAdvice(facts);
  return {
    secureBoot,
    lockdown: lockdown ?? null,
    unsignedRefused: refusal ?? null,
    key: key === undefined ? null : { source: key.source, key: key.key, cert: key.cert, subject: key.certificate.subject, keyId: key.certificate.keyId, serial: key.certificate.serial, sha1: key.certificate.sha1Fingerprint },
    keyProblem: keyProblem === undefined ? null : describeError(keyProblem),
    trustedIn: trustedIn ?? null,
    mok,
    enrolment: advice.enrolment,
    next: advice.next,
    notes,
  };
}

// The status as text, one fact a line, the next step last.
export function formatKeyStatus(status: KeyStatus): string {
  const lines = [
    `Secure Boot:  ${status.secureBoot === 'unknown' ? 'unknown (no EFI variables)' : status.secureBoot}`,
    `lockdown:     ${status.lockdown ?? 'unknown (no /sys/kernel/security/lockdown)'}`,
    `unsigned modules: ${status.unsignedRefused === null ? 'accepted by this kernel' : `refused (${status.unsignedRefused})`}`,
  ];
  if (status.key !== null) {
    lines.push(`signing key:  ${describeSource(status.key.source as SigningKey['source'])}, ${status.key.subject} (key id ${status.key.keyId})`);
    lines.push(`              ${status.key.key}, certificate ${status.key.cert}`);
    lines.push(`kernel trusts it: ${status.trustedIn === null ? 'unknown' : status.trustedIn.length === 0 ? 'no' : `yes (${status.trustedIn.join(', ')})`}`);
    lines.push(`MOK list:     ${{ enrolled: 'enrolled', pending: 'waiting for MokManager at the next boot', absent: 'not enrolled', unknown: 'unknown' }[status.mok]}`);
  } else {
    lines.push(`signing key:  ${status.keyProblem ?? 'none yet'}`);
  }
  for (const note of status.notes) lines.push(`note: ${note}`);
  lines.push(`next: ${status.next}`);
  return lines.join('\n');
}
