// Whether the running kernel will refuse unsigned modules (module.sig_enforce, lockdown, EFI Secure
// Boot): decided by a pure function on facts read from the host (tests give made-up roots).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

// The EFI variable SecureBoot (EFI_GLOBAL_VARIABLE, 8be4df61-93ca-11d2-aa0d-00e098032b8c) as
// efivarfs shows it. (Until the Secure Boot guest read it, kvc looked under a wrong GUID.)
export const SECURE_BOOT_VARIABLE = 'sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c';

// What the host says; undefined where the file is absent (no EFI, no securityfs, no parameter).
export interface SignatureFacts {
  // /sys/module/module/parameters/sig_enforce: "Y" or "N".
  readonly sigEnforce: string | undefined;
  // /sys/kernel/security/lockdown: e.g. "none [integrity] confidentiality".
  readonly lockdown: string | undefined;
  // efivarfs' bytes: 4 bytes of attributes, then the value (1 = Secure Boot on).
  readonly secureBoot: Uint8Array | undefined;
}

// EFI Secure Boot from the variable's bytes: on, off, or unknown (no EFI variables).
export function secureBootState(facts: SignatureFacts): 'on' | 'off' | 'unknown' {
  if (facts.secureBoot === undefined || facts.secureBoot.length < 5) return 'unknown';
  return facts.secureBoot[4] === 1 ? 'on' : 'off';
}

// The lockdown mode in force ("none", "integrity", "confidentiality"), undefined without securityfs.
export function lockdownMode(facts: SignatureFacts): string | undefined {
  return facts.lockdown === undefined ? undefined : /\[(\w+)\]/.exec(facts.lockdown)?.[1];
}

// Why the kernel will refuse unsigned modules; undefined when it will take them. Pure.
// sig_enforce and the lockdown LSM decide; the EFI SecureBoot variable only where the kernel says
// nothing of lockdown (no securityfs): with Secure Boot on and validation off in shim, or on a
// kernel that does not tie lockdown to it, lockdown reads "none" and unsigned modules load.
// Lockdown is named first: a locked-down kernel reports sig_enforce=Y too, and lockdown is the
// cause the user must know (Secure Boot).
export function unsignedModulesRefused(facts: SignatureFacts): string | undefined {
  const lockdown = lockdownMode(facts);
  if (lockdown === 'integrity' || lockdown === 'confidentiality') return `the kernel is locked down (lockdown=${lockdown}), which refuses unsigned modules`;
  if (facts.sigEnforce?.trim() === 'Y') return 'the kernel enforces module signatures (module.sig_enforce=1)';
  if (facts.lockdown !== undefined) return undefined;
  if (secureBootState(facts) === 'on') return 'EFI Secure Boot is on and the kernel does not say it is not locked down (no /sys/kernel/security/lockdown)';
  return undefined;
}

// Reads the facts under the host's root.
export async function readSignatureFacts(hostRoot: string): Promise<SignatureFacts> {
  const text = (path: string) => readFile(join(hostRoot, path), 'utf8').catch(() => undefined);
  return {
    sigEnforce: await text('sys/module/module/parameters/sig_enforce'),
    lockdown: await text('sys/kernel/security/lockdown'),
    secureBoot: await readFile(join(hostRoot, SECURE_BOOT_VARIABLE)).catch(() => undefined),
  };
}
