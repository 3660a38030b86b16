// The kernel's own inputs for a header-less build (issue 21): gathers on the host what
// kernel/abi/kernel-inputs.ts decides from (the source and config the user named, the config of the
// search order, the kernel's Module.symvers or installed modules), and turns the decision into what
// the build gets: files as build secrets (read in a RUN step, never in a layer) and folders as
// read-only bind mounts, and build args saying which. No shell string is made of a user's path.
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { firstConfig } from '../kernel/abi/config-search.js';
import { moduleFiles } from '../kernel/abi/host-abi.js';
import { KernelInputError, planKernelInputs, type KernelInputFacts, type KernelInputs, type PathKind } from '../kernel/abi/kernel-inputs.js';
import { parseKernelConfig } from '../kernel/kernel-config.js';
import { readOnlyVolume, type BuildSecret } from '../runtime/args.js';
import type { Context } from './context.js';

// What the user named (--kernel-source / --kernel-config, or the .conf's KVC_KERNEL_SOURCE / KVC_KERNEL_CONFIG).
export interface KernelInputRequest {
  readonly source?: string | undefined;
  readonly config?: string | undefined;
}

// What the build gets.
export interface KernelInputBuild {
  readonly inputs: KernelInputs;
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly secrets: readonly BuildSecret[];
  readonly volumes: readonly string[];
}

// Where the build sees them (Containerfile.debian-source reads these).
const SOURCE_SECRET = 'kvc_kernel_source';
const CONFIG_SECRET = 'kvc_kernel_config';
const SOURCE_DIR = '/run/kvc-kernel-source';
const MODULES_DIR = '/run/kvc-kernel-modules';

function pathKind(path: string): PathKind {
  try {
    const stat = statSync(path);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}

async function configOptions(path: string): Promise<ReadonlyMap<string, string>> {
  const bytes = await readFile(path);
  return parseKernelConfig((path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
}

// The facts for kver and what the user named.
export async function gatherKernelInputFacts(ctx: Context, kver: string, request: KernelInputRequest): Promise<KernelInputFacts> {
  const running = kver === ctx.runningKernel;
  const found = firstConfig({ kver, running, root: ctx.hostRoot }, (path) => pathKind(path) === 'file');
  const userSource = request.source === undefined ? undefined : { path: resolve(request.source), kind: pathKind(resolve(request.source)) };
  const userConfig = request.config === undefined ? undefined : { path: resolve(request.config), kind: pathKind(resolve(request.config)) };
  const modulesDir = join(ctx.hostRoot, 'lib/modules', kver);
  const symvers = join(modulesDir, 'build', 'Module.symvers');
  return {
    kver,
    userSource,
    userConfig,
    foundConfig: found === undefined ? undefined : { candidate: found, options: await configOptions(found.path) },
    userConfigOptions: userConfig?.kind === 'file' ? await configOptions(userConfig.path) : undefined,
    symvers: pathKind(symvers) === 'file' ? symvers : undefined,
    modulesDir,
    moduleCount: (await moduleFiles(join(modulesDir, 'kernel'))).length,
  };
}

// Whether the user named any of the kernel's inputs (else the recipe finds them itself).
export function namesKernelInputs(request: KernelInputRequest | undefined): request is KernelInputRequest {
  return request !== undefined && (request.source !== undefined || request.config !== undefined);
}

// The plan as the build gets it; a missing or wrong input is a usage error with its remedy.
export async function kernelInputBuild(ctx: Context, kver: string, request: KernelInputRequest): Promise<KernelInputBuild> {
  let inputs: KernelInputs;
  try {
    inputs = planKernelInputs(await gatherKernelInputFacts(ctx, kver, request));
  } catch (error) {
    if (error instanceof KernelInputError) throw new UsageError(error.message, { hint: error.remedy });
    throw error;
  }
  const buildArgs: Record<string, string> = {};
  const secrets: BuildSecret[] = [];
  const volumes: string[] = [];
  if (inputs.source.kind === 'tarball') {
    buildArgs.KVC_KERNEL_SOURCE = 'tarball';
    secrets.push({ id: SOURCE_SECRET, src: inputs.source.path });
  } else if (inputs.source.kind === 'dir') {
    buildArgs.KVC_KERNEL_SOURCE = 'dir';
    volumes.push(readOnlyVolume(inputs.source.path, SOURCE_DIR));
  }
  if (inputs.config !== undefined) {
    buildArgs.KVC_KERNEL_CONFIG = inputs.config.path.endsWith('.gz') ? 'gz' : 'plain';
    secrets.push({ id: CONFIG_SECRET, src: inputs.config.path });
  }
  // The user's source has no distribution package to take CRCs from: the host's modules tree.
  if (inputs.source.kind !== 'package') {
    if (inputs.crcs.kind === 'modules') {
      buildArgs.KVC_KERNEL_CRCS = 'modules';
      volumes.push(readOnlyVolume(inputs.crcs.dir, MODULES_DIR));
    } else if (inputs.crcs.kind === 'symvers') {
      buildArgs.KVC_KERNEL_CRCS = 'symvers';
      volumes.push(readOnlyVolume(join(inputs.crcs.path, '..'), MODULES_DIR));
    }
  }
  return { inputs, buildArgs, secrets, volumes };
}
