// Pulls an instance's image for a kernel from KVC_IMAGE_REPO and accepts it only verified: podman
// checks its signature (GPG simple signing or sigstore, as the key's form says) against a policy kvc writes for that repository alone, then kvc
// checks its labels and modules (vermagic, version). Only then does it get the local name; an
// image that fails is removed. The outcome is recorded for `kvc status`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceSettings } from '../config/settings.js';
import type { RegistrySettings } from '../config/registry-settings.js';
import { RuntimeError } from '../errors.js';
import { imageInRepo, imageName } from '../images/names.js';
import { classifyPullFailure, labelProblems, pullFailureReason } from '../registry/pull-plan.js';
import { writePullRecord, type PullRecord } from '../registry/pull-record.js';
import { policyFileName, policyForRepo, registriesDFileName, registriesDForRepo } from '../registry/trust-policy.js';
import { signatureStore, verifyKeyKind, type SignatureStore } from '../registry/signature-kind.js';
import { ConfigError } from '../errors.js';
import { hostWrites, type Context } from './context.js';
import { isWould, type Would } from '../host/effect.js';
import { imageProblems } from '../images/verify.js';

// The host's default policy, under the host root.
export const HOST_POLICY = 'etc/containers/policy.json';
// Where podman (run by root) looks for registries.d files, under the host root.
export const REGISTRIES_D = 'etc/containers/registries.d';
// What stands in for a host without a policy file: podman itself refuses to pull then.
const NO_POLICY = '{"default": [{"type": "reject"}]}';

// What a pull did: accepted (the image has its local name) or not, with the reason.
export type PullOutcome = { readonly accepted: true; readonly image: string } | { readonly accepted: false; readonly record: PullRecord };

// The signature kind and store the configured keys choose: the verification key's form says which
// (a configuration error when it is neither, or when KVC_IMAGE_SIGNATURES does not fit it).
export async function trustStore(registry: RegistrySettings): Promise<SignatureStore> {
  const key = await readFile(registry.verifyKey).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(registry.verifyKey, 'KVC_IMAGE_VERIFY_KEY', `cannot be read (${error.code ?? error.message})`, { hint: 'copy the builder\'s public key there (GPG or sigstore)', cause: error });
  });
  return signatureStore(verifyKeyKind(key, registry.verifyKey), registry.signatures, registry.verifyKey);
}

// Writes the policy and registries.d files for the repository; returns the policy's path and the store.
export async function writeTrustFiles(ctx: Context, registry: RegistrySettings): Promise<{ policyFile: string; store: SignatureStore }> {
  const store = await trustStore(registry);
  const hostPolicyPath = join(ctx.hostRoot, HOST_POLICY);
  const hostPolicy = await readFile(hostPolicyPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return NO_POLICY;
    throw error;
  });
  const dir = join(ctx.runDir, 'registry');
  const host = hostWrites(ctx);
  await host.mkdirp(dir, 0o700);
  const policyFile = join(dir, policyFileName(registry.repo));
  await host.writeFile(policyFile, policyForRepo(hostPolicy, hostPolicyPath, registry.repo, { kind: store.kind, path: registry.verifyKey }), 0o600);
  const registriesD = join(ctx.hostRoot, REGISTRIES_D);
  await host.mkdirp(registriesD, 0o755);
  await host.writeFile(join(registriesD, registriesDFileName(registry.repo)), registriesDForRepo(registry.repo, store), 0o644);
  return { policyFile, store };
}

// Pulls REPO/<name>-<version>:<tag> and verifies it; never gives an unverified image the local name.
// A dry run's pull (a Would) pulled nothing: there is nothing to verify.
export async function pullVerified(ctx: Context, settings: InstanceSettings, kver: string, registry: RegistrySettings): Promise<PullOutcome | Would> {
  const local = imageName(settings, kver);
  const remote = imageInRepo(local, registry.repo);
  const refuse = async (outcome: 'refused' | 'unreachable', reason: string): Promise<PullOutcome> => {
    const record: PullRecord = { kernel: kver, image: remote, outcome, reason, fallback: null, at: new Date().toISOString() };
    ctx.logger.warn(`pull of ${remote} ${outcome === 'refused' ? 'refused' : 'failed'}: ${reason}`);
    return { accepted: false, record };
  };
  const { policyFile, store } = await writeTrustFiles(ctx, registry);
  ctx.logger.info(`pulling ${remote}, verified with ${registry.verifyKey} (${store.kind === 'gpg' ? `GPG signatures from ${store.url}` : 'sigstore signatures in the registry'})`);
  let pull: Awaited<ReturnType<typeof ctx.runtime.pull>>;
  try {
    pull = await ctx.runtime.pull(remote, { policyFile, tlsVerify: registry.tlsVerify });
  } catch (error) {
    const output = error instanceof RuntimeError ? `${error.message}\n${error.stderrTail}` : String(error);
    return refuse(classifyPullFailure(output), pullFailureReason(output));
  }
  if (isWould(pull)) return pull;
  const pulled = await ctx.runtime.inspectImage(remote);
  const problems = pulled === undefined ? ['it is not in the image store after the pull']
    : labelProblems(pulled.labels, { instance: settings.name, kernel: kver, version: settings.softwareVersion });
  if (problems.length === 0 && pulled !== undefined) problems.push(...(await imageProblems(ctx.runtime, settings, remote, kver, pulled.labels)));
  if (problems.length > 0) {
    await ctx.runtime.removeImage(remote).catch((error: unknown) => ctx.logger.warn(`could not remove ${remote}: ${String(error)}`));
    return refuse('refused', `signed, but kvc's checks failed: ${problems.join('; ')}`);
  }
  await ctx.runtime.tag(remote, local);
  await ctx.runtime.removeImage(remote).catch((error: unknown) => ctx.logger.verbose(`name ${remote} kept: ${String(error)}`));
  await writePullRecord(ctx.stateDir ?? '/var/lib/kvc', settings.name, { kernel: kver, image: remote, outcome: 'pulled', reason: null, fallback: null, at: new Date().toISOString() });
  ctx.logger.info(`pulled ${remote} as ${local}: signature and checks passed`);
  return { accepted: true, image: local };
}
