// Works out, for one load, which modules come from the host kernel's own tree and which from the
// image (reads the image, the host's tree and /sys; the decision is kmods/sources.ts).
import { KernelRefusedError } from '../errors.js';
import { readHostTree, type HostTree } from '../kmods/host-tree.js';
import { planSources, type SourcesPlan } from '../kmods/sources.js';
import { kernelModuleName } from '../kernel/module-state.js';
import { readSignatureFacts, unsignedModulesRefused } from '../kernel/signature-policy.js';
import { readImageModules } from './image-modules.js';
import { keyLocations, type Context } from './context.js';
import { parseModinfo } from '../kmods/modinfo.js';
import { preloadDecision, type ModuleSignature } from '../signing/load-trust.js';
import { readKernelKeys } from '../signing/keyring-reader.js';
import { findSigningKey } from '../signing/signing-key.js';
import { parseSignerLabel, signerOf } from '../signing/signer.js';
import { moduleStatuses } from './modules-state.js';
import { readImageLabels } from '../images/labels.js';

// The plan, with the host's tree it uses.
export interface LoadSources {
  readonly plan: SourcesPlan;
  readonly host: HostTree | undefined;
}

// Plans the load of `own` (KMOD_NAMES not loaded yet) and the image's further modules; refuses,
// before anything is loaded, what neither the image nor the host's tree has.
export async function loadSources(ctx: Context, image: string, kver: string, own: readonly string[]): Promise<LoadSources> {
  const contents = await readImageModules(ctx, image, kver);
  const host = await readHostTree(ctx.hostRoot, kver);
  const names = new Set([...own, ...contents.loadAlso].map(kernelModuleName));
  for (const [name, deps] of contents.graph) for (const one of [name, ...deps]) names.add(one);
  const status = await moduleStatuses(ctx, [...names]);
  const plan = planSources({ own, also: contents.loadAlso, image: contents.graph, host, state: new Map([...status].map(([name, entry]) => [name, entry.state])) });
  if (plan.missing.length > 0) {
    const where = host === undefined ? `the host has no module tree for ${kver} (/lib/modules/${kver}/modules.dep)` : `nor does the kernel's own tree (${host.dir})`;
    throw new KernelRefusedError(`${image} needs ${plan.missing.join(', ')}, which it does not hold, ${where}`, {
      hint: `install the modules package of kernel ${kver}, or rebuild the image: kvc build <name> ${kver} --force`,
    });
  }
  return { plan, host };
}

// Refuses, before anything is loaded, a load of the image's modules that the kernel would refuse:
// where it enforces signatures (sig_enforce, lockdown), each module's signer (modinfo in the image)
// is compared with the keys the kernel trusts (/proc/keys, keyctl), load-trust.ts decides. Where it
// does not enforce, nothing is read. Warnings (a signer the kernel does not trust, which it loads
// anyway) are logged.
export async function assertSignaturesAccepted(ctx: Context, settings: { readonly name: string }, image: string, kver: string, modules: readonly string[]): Promise<void> {
  const refusal = unsignedModulesRefused(await readSignatureFacts(ctx.hostRoot));
  if (refusal === undefined || modules.length === 0) return;
  const result = await ctx.runtime.probe(image, ['modinfo', '-k', kver, '--', ...modules]);
  const infos = parseModinfo(result.stdout);
  const signatures = modules.map((module): ModuleSignature => {
    const name = kernelModuleName(module);
    const info = infos.find((found) => found.name === name);
    return { name, signer: info?.signer, sigKey: info?.sigKey, hashAlgo: info?.sigHashAlgo };
  });
  const labels = (await ctx.runtime.inspectImage(image))?.labels ?? {};
  const current = await findSigningKey(ctx.signingKey, keyLocations(ctx)).catch(() => undefined);
  const kernel = await readKernelKeys(ctx.hostRoot);
  if (kernel.note !== undefined) ctx.logger.verbose(`signature check: ${kernel.note}`);
  const verdict = preloadDecision(signatures, {
    trusted: kernel.keys,
    imageSigner: parseSignerLabel(readImageLabels(labels)?.signer),
    currentKey: current === undefined ? undefined : signerOf(current.certificate),
  }, refusal, `kvc build ${settings.name} ${kver} --force`);
  if (verdict.kind === 'refuse') throw new KernelRefusedError(`kernel ${kver} would refuse ${image}'s modules: ${verdict.message}`, { hint: verdict.hint });
  for (const warning of verdict.warnings) ctx.logger.warn(warning);
}
