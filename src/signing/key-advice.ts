// What `kvc key status` concludes from what it read: whether the key is trusted, and the one thing
// the user must do next. Pure, tested on data.
import type { MokState } from './mok.js';

// What was read of the host and the key.
export interface KeyFacts {
  // EFI's SecureBoot variable: on, off, or no EFI variables (BIOS boot, no efivarfs).
  readonly secureBoot: 'on' | 'off' | 'unknown';
  // The lockdown mode ("none", "integrity", "confidentiality"), undefined without securityfs.
  readonly lockdown: string | undefined;
  // Why the kernel refuses unsigned modules (signature-policy.ts), undefined when it takes them.
  readonly refusal: string | undefined;
  // The signing key, none yet, or why it cannot be used.
  readonly key: { readonly source: string; readonly subject: string; readonly keyId: string } | 'none' | { readonly error: string; readonly hint: string | undefined };
  // The keyrings of the running kernel holding the key ([] none; undefined: not readable).
  readonly trustedIn: readonly string[] | undefined;
  readonly mok: MokState;
}

// Where the key stands, for scripts (kvc key status --json) and the text.
export type Enrolment = 'trusted' | 'pending' | 'enrolled-not-trusted' | 'not-enrolled' | 'no-key' | 'unknown';

// The conclusion.
export interface KeyAdvice {
  readonly enrolment: Enrolment;
  // What to do next, one sentence, or 'nothing' when all is well.
  readonly next: string;
}

// MokManager's steps, as the screens name them.
export const MOKMANAGER_STEPS = 'at the next boot a blue MokManager screen appears before the boot menu (press a key within 10 s): choose "Enroll MOK", then "Continue", then "Yes", type the password, then "Reboot"';

// Decides.
export function keyAdvice(facts: KeyFacts): KeyAdvice {
  const needed = facts.refusal !== undefined;
  if (facts.key === 'none') {
    return needed
      ? { enrolment: 'no-key', next: `this kernel refuses unsigned modules (${facts.refusal}): run kvc key create, then kvc key enroll, and reboot` }
      : { enrolment: 'no-key', next: 'nothing: this kernel loads unsigned modules; kvc key create makes a key if you want the modules signed (kvc then uses it for every build)' };
  }
  if ('error' in facts.key) return { enrolment: 'unknown', next: facts.key.hint ?? facts.key.error };
  if (facts.trustedIn !== undefined && facts.trustedIn.length > 0) return { enrolment: 'trusted', next: 'nothing: the running kernel trusts the key kvc signs with' };
  if (facts.mok === 'pending') return { enrolment: 'pending', next: `reboot: ${MOKMANAGER_STEPS}` };
  if (facts.mok === 'enrolled') {
    return { enrolment: 'enrolled-not-trusted', next: 'the key is in shim\'s MOK list, but the running kernel has not put it in a trusted keyring: run mokutil --trust-mok and reboot (or check that this kernel takes MOK keys: CONFIG_INTEGRITY_MACHINE_KEYRING)' };
  }
  if (facts.trustedIn === undefined && facts.mok === 'unknown') return { enrolment: 'unknown', next: 'run kvc key status as root (it reads /proc/keys and runs mokutil)' };
  if (facts.secureBoot === 'unknown' && facts.mok === 'unknown') {
    return needed
      ? { enrolment: 'not-enrolled', next: `the kernel refuses unsigned modules (${facts.refusal}) and this host has no EFI variables for shim: add the certificate (kvc key export) to the kernel's trusted keys another way` }
      : { enrolment: 'not-enrolled', next: 'nothing needed now: this kernel loads modules signed by any key (a key it does not know taints it); on a UEFI host with shim, kvc key enroll makes the kernel trust it' };
  }
  return needed
    ? { enrolment: 'not-enrolled', next: 'run kvc key enroll, then reboot and enrol the key in MokManager' }
    : { enrolment: 'not-enrolled', next: 'not needed now (Secure Boot is off, unsigned modules load), but kvc key enroll and a reboot make the kernel trust it before Secure Boot is turned on' };
}
