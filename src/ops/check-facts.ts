// Gathers what `kvc check` evaluates (checks.ts): thin reads of the host, the configuration and
// the runtime, each failure kept as a fact rather than thrown.
import { keyLocations } from './context.js';
import { gatherKeyStatus } from '../signing/key-status.js';
import { accessSync, constants, existsSync, readFileSync, statfsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, errorLines } from '../errors.js';
import { confTextErrors } from '../config/conf-file.js';
import { GLOBAL_FILES, listInstanceNames, loadGlobalSettings, loadInstanceSettings } from '../config/load.js';
import { resolveRegistry } from '../config/registry-settings.js';
import { trustStore } from './pull-image.js';
import type { InstanceSettings } from '../config/settings.js';
import { findKernelConfig, refusalReason } from '../kernel/kernel-config.js';
import { kernelHasModuleSupport, kernelModuleName } from '../kernel/module-state.js';
import { readSignatureFacts, unsignedModulesRefused } from '../kernel/signature-policy.js';
import type { CheckFacts } from './checks.js';
import { deviceManagerNames, procRoot, type Context } from './context.js';
import { unattendedBuildProblem } from './unattended-sources.js';
import { managerOf } from '../devices/manager.js';
import { namedKernelInputs, recipePlanFor } from './recipe-facts.js';
import { appArmorHost } from '../host/apparmor.js';

// Everything check evaluates, for `only` (one instance) or all, and kernel kver.
export async function gatherCheckFacts(ctx: Context, kver: string, only?: string): Promise<CheckFacts> {
  const runtime = await ctx.runtime.describe().then(
    (found) => ({ name: ctx.runtime.name, version: found.version, ...(found.storage === undefined ? {} : { storage: found.storage }) }),
    (error: unknown) => ({ name: ctx.runtime.name, error: describeError(error) }),
  );
  const { configErrors, instances } = await configFacts(ctx, only);
  const devices: CheckFacts['devices'][number][] = [];
  for (const settings of instances) {
    const manager = managerOf(ctx.deviceManagers, settings.deviceManager);
    if (manager === undefined) continue;
    const path = join(ctx.configDir, `${settings.name}.devices`);
    try {
      const config = await manager.readConfig(ctx, settings);
      devices.push({ instance: settings.name, path, present: config !== undefined });
    } catch (error) {
      for (const line of errorLines(error)) devices.push({ instance: settings.name, path, present: true, problem: line });
    }
  }
  return {
    runtime,
    ...('storage' in runtime && runtime.storage !== undefined ? { storage: storageFacts(runtime.storage) } : {}),
    configErrors,
    instances: instances.map((settings) => settings.name),
    devices,
    unattended: instances.flatMap((settings) => {
      const problem = unattendedBuildProblem(settings);
      return problem === undefined ? [] : [{ instance: settings.name, problem: `${problem} (KVC_SERVICE_UNPINNED=yes allows it)` }];
    }),
    appArmor: appArmorHost(ctx.hostRoot),
    kernel: await kernelFacts(ctx, kver, instances),
  };
}

// Every configuration error at once: each file's every bad line, then what its settings refuse.
async function configFacts(ctx: Context, only: string | undefined): Promise<{ configErrors: string[]; instances: InstanceSettings[] }> {
  const errors: string[] = [];
  const textErrors = async (path: string): Promise<boolean> => {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    const found = text === undefined ? [] : confTextErrors(path, text);
    errors.push(...found.map(describeError));
    return found.length > 0;
  };
  let globalBad = false;
  for (const name of GLOBAL_FILES) {
    // The bash KVC's global file is a shell fragment, read tolerantly: its lines are not errors.
    if (name !== 'kmods-via-containers.conf') globalBad = (await textErrors(join(ctx.configDir, name))) || globalBad;
  }
  const global = globalBad ? undefined : await loadGlobalSettings(ctx.configDir).catch((error: unknown) => void errors.push(describeError(error)));
  const names = only === undefined ? await listInstanceNames(ctx.configDir).catch((error: unknown) => (errors.push(describeError(error)), [])) : [only];
  const instances: InstanceSettings[] = [];
  for (const name of names) {
    if (await textErrors(join(ctx.configDir, `${name}.conf`))) continue;
    // With kvc.conf's registry keys: an instance whose KVC_IMAGE_REPO has no verification key is an
    // error, and so is a key of neither signature kind, KVC_IMAGE_SIGNATURES that does not fit it,
    // or docker as the runtime.
    await loadInstanceSettings(ctx.configDir, name, deviceManagerNames(ctx)).then(async (settings) => {
      const registry = global === undefined ? undefined : resolveRegistry(global.registry, settings.registry, ctx.runtime.name);
      if (registry !== undefined) await trustStore(registry);
      instances.push(settings);
    }).catch((error: unknown) => errors.push(describeError(error)));
  }
  return { configErrors: errors, instances };
}

function storageFacts(path: string): NonNullable<CheckFacts['storage']> {
  let writable = false;
  try {
    accessSync(path, constants.W_OK);
    writable = true;
  } catch {
    writable = !existsSync(path) && existsSync(join(path, '..'));
  }
  let freeBytes: number | undefined;
  try {
    const fs = statfsSync(existsSync(path) ? path : join(path, '..'));
    freeBytes = fs.bavail * fs.bsize;
  } catch {
    freeBytes = undefined;
  }
  return { path, writable, freeBytes };
}

async function kernelFacts(ctx: Context, kver: string, instances: readonly InstanceSettings[]): Promise<CheckFacts['kernel']> {
  const running = kver === ctx.runningKernel;
  const text = (path: string): string | undefined => {
    try {
      return readFileSync(join(ctx.hostRoot, path), 'utf8');
    } catch {
      return undefined;
    }
  };
  const signature = running ? await readSignatureFacts(ctx.hostRoot) : undefined;
  const config = await findKernelConfig(kver, running, ctx.hostRoot);
  const requires = [...new Set(instances.flatMap((settings) => settings.kernelRequires))];
  const refusal = config === undefined ? undefined : refusalReason(config, requires);
  const builtin = new Set((text(`lib/modules/${kver}/modules.builtin`) ?? '').split('\n').map((line) => kernelModuleName(line.replace(/^.*\//, '').replace(/\.ko$/, ''))));
  const modules = instances.flatMap((settings) => settings.modules).filter((module) => builtin.has(kernelModuleName(module)));
  const lockdown = signature?.lockdown?.trim();
  const refused = signature === undefined ? undefined : unsignedModulesRefused(signature);
  const signing = refused === undefined ? undefined : await signingFacts(ctx);
  return {
    kver,
    running,
    ...(running ? { moduleSupport: await kernelHasModuleSupport(procRoot(ctx)) } : {}),
    ...(running && text('proc/sys/kernel/modules_disabled') !== undefined ? { modulesDisabled: text('proc/sys/kernel/modules_disabled') as string } : {}),
    ...(signature === undefined ? {} : { unsignedRefused: unsignedModulesRefused(signature), secureBoot: signature.secureBoot !== undefined && signature.secureBoot[4] === 1 }),
    ...(lockdown === undefined ? {} : { lockdown }),
    ...(signing === undefined ? {} : { signing }),
    ...(config === undefined ? {} : { configSource: config.source }),
    ...(refusal === undefined ? {} : { configRefusal: refusal }),
    headers: existsSync(join(ctx.hostRoot, 'lib/modules', kver, 'build')),
    // The first instance whose .conf names the kernel's source or config (KVC_KERNEL_SOURCE,
    // KVC_KERNEL_CONFIG): the service builds with them.
    recipe: await recipePlanFor(ctx, kver, instances.map((settings) => namedKernelInputs(settings.name, settings.kernelInputs)).find((named) => named !== undefined)),
    builtIn: [...new Set(modules)],
  };
}

// The signing key and whether the running kernel trusts it, as kvc key status finds them.
async function signingFacts(ctx: Context): Promise<NonNullable<CheckFacts['kernel']['signing']>> {
  const status = await gatherKeyStatus(ctx.hostRoot, ctx.signingKey, keyLocations(ctx));
  if (status.key === null) return { key: status.keyProblem, trusted: 'unknown', next: status.next };
  const trusted = status.trustedIn === null ? 'unknown' : status.trustedIn.length > 0 ? 'yes' : 'no';
  return { key: `${status.key.subject} (key id ${status.key.keyId})`, trusted, next: status.next };
}
