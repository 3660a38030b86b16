// The key a build signs with: the chosen one (key-choice.ts), or, when there is none and the
// running kernel refuses unsigned modules, kvc's own, created now (docs/secure-boot.md). None
// otherwise: the build is then unsigned, as before.
import type { ConfiguredSigningKey } from '../config/signing-settings.js';
import type { Logger } from '../log/logger.js';
import { isWould } from '../host/effect.js';
import type { HostWrites } from '../host/host-writes.js';
import { readSignatureFacts, unsignedModulesRefused } from '../kernel/signature-policy.js';
import { createKvcKey } from './create-key.js';
import type { KeyLocations } from './key-choice.js';
import { findSigningKey, type SigningKey } from './signing-key.js';

// The key a build signs with: the configured or found one, created on first need where the kernel refuses unsigned modules; undefined for an unsigned build.
export async function keyForBuild(options: { configured: ConfiguredSigningKey | undefined; locations: KeyLocations; hostRoot: string; logger: Logger; host: HostWrites }): Promise<SigningKey | undefined> {
  const found = await findSigningKey(options.configured, options.locations);
  if (found !== undefined) return found;
  const refusal = unsignedModulesRefused(await readSignatureFacts(options.hostRoot));
  if (refusal === undefined) return undefined;
  const created = await options.host.apply(`create kvc's own signing key in ${options.locations.keyDir} (${refusal}) and sign with it`, () => createKvcKey(options.locations));
  if (isWould(created)) return undefined;
  options.logger.warn(`${refusal}: created kvc's own signing key ${created.key} (${created.certificate.subject}, key id ${created.certificate.keyId}); the kernel trusts it only once enrolled: run kvc key enroll and reboot`);
  return created;
}
