// `kvc status`: configured instances, the kernels they have images for, and their modules' state
// now, as one report (the model): `--json` prints it, the text is made from it alone (status-text.ts).
import { describeError, ExitStatus } from '../errors.js';
import { loadInstanceSettings, listInstanceNames } from '../config/load.js';
import type { ModuleState } from '../kernel/module-state.js';
import { moduleStatuses } from './modules.js';
import { liveToolsPid } from './tools.js';
import { deviceManagerNames, type Context } from './context.js';
import type { UnitState } from '../bus/systemd.js';
import { kernelReport, type KernelReport, type KernelStatus } from './kernel-status.js';
import { namedKernelInputs, recipePlanFor, type NamedKernelInputs } from './recipe-facts.js';
import { recipeCheck } from './checks.js';
import { describeContext } from '../config/settings.js';
import { readImageProvides } from './image-modules.js';
import { IMAGE_LABEL, readImageLabels } from '../images/labels.js';
import { managerOf } from '../devices/manager.js';
import { describePull, readPullRecords } from '../registry/pull-record.js';

// One instance's report.
export interface InstanceStatus {
  readonly name: string;
  readonly config: string;
  readonly error: string | null;
  readonly softwareVersion: string | null;
  readonly context: { remote: boolean; source: string; pinned: 'local' | 'commit' | 'ref' | 'none' } | null;
  // Every image of the instance, of any KMOD_SOFTWARE_VERSION (the kernels' lines show the current one's).
  readonly images: readonly { kernel: string; version: string; image: string; id: string; size: number; created: string; running: boolean }[];
  readonly modules: readonly { name: string; state: ModuleState; refcnt: number; holders: readonly string[] }[];
  readonly toolsPid: number | null;
  // Per kernel: image built, building, queued, failed, refused, missing…; and what boots next.
  readonly kernels: KernelReport | null;
  unit?: UnitState | null;
  // The device manager (KVC_DEVICE_MANAGER) and its report, when the instance has one.
  readonly deviceManager?: string;
  readonly devices?: unknown;
  // The last pull from KVC_IMAGE_REPO per kernel, one line each (src/registry/pull-record.ts).
  readonly pulls?: readonly string[];
}

// Something status found wrong: it is shown, and makes status exit non-zero. 'config': a .conf or
// devices file that cannot be used; 'build': the service's build of a kernel failed; 'probe': an
// image could not be asked what it provides.
export interface StatusProblem {
  readonly kind: 'config' | 'build' | 'probe';
  readonly instance: string;
  readonly kernel: string | null;
  // One line: the instance (and kernel), then what is wrong.
  readonly what: string;
}

// The whole report, as `kvc status --json` prints it.
export interface StatusReport {
  readonly runningKernel: string;
  readonly runtime: string;
  readonly configDir: string;
  readonly instances: readonly InstanceStatus[];
  readonly systemd: string | null;
  // Everything that makes status fail, in the order shown (its exit status says which kind).
  readonly problems: readonly StatusProblem[];
}

// Reads each instance's kvc@ unit from systemd (given by the caller, which owns the bus
// connection): sets instance.unit, returns why there is none, or null.
export type UnitStateReader = (instances: InstanceStatus[]) => Promise<string | null>;

// What to report on: one instance or all, every kernel or one.
export interface StatusScope {
  readonly only?: string | undefined;
  readonly kernel?: string | undefined;
}

// Gathers the report for one instance or all; a broken .conf is reported, not thrown (unless it
// is the one instance asked for).
export async function gatherStatus(ctx: Context, keep: number, readUnits: UnitStateReader, scope: StatusScope = {}): Promise<StatusReport> {
  const names = scope.only === undefined ? await listInstanceNames(ctx.configDir) : [scope.only];
  const instances: InstanceStatus[] = [];
  const problems: StatusProblem[] = [];
  const ofScope = (kver: string) => scope.kernel === undefined || kver === scope.kernel;
  for (const name of names) {
    const config = `${ctx.configDir}/${name}.conf`;
    let settings;
    try {
      settings = await loadInstanceSettings(ctx.configDir, name, deviceManagerNames(ctx));
    } catch (error) {
      if (scope.only !== undefined) throw error;
      instances.push({ name, config, error: describeError(error), softwareVersion: null, context: null, images: [], modules: [], toolsPid: null, kernels: null });
      problems.push(problem('config', name, null, describeError(error)));
      continue;
    }
    const listed = await ctx.runtime.imagesWithLabel(IMAGE_LABEL.instance, name);
    const images = listed
      .map((image) => {
        const labels = readImageLabels(image.labels);
        const kernel = labels?.kernel ?? '';
        return { kernel, version: labels?.version ?? '', image: image.names[0] ?? '<none>', id: image.id.slice(0, 12), size: image.size, created: image.created, running: kernel === ctx.runningKernel };
      })
      .filter((image) => ofScope(image.kernel))
      .sort((a, b) => a.kernel.localeCompare(b.kernel, undefined, { numeric: true }));
    const modules = [...(await moduleStatuses(ctx, settings.modules)).values()].map((m) => ({ name: m.name, state: m.state, refcnt: m.refcnt, holders: m.holders }));
    const toolsPid = (await liveToolsPid(ctx, name, ctx.runningKernel)) ?? null;
    const report = await kernelReport(ctx, settings, listed, keep);
    const kernels = { ...report, kernels: await Promise.all(report.kernels.filter((kernel) => ofScope(kernel.kver)).map(async (kernel) => withRecipe(ctx, await withProvides(ctx, kernel), namedKernelInputs(name, settings.kernelInputs)))) };
    for (const kernel of kernels.kernels) problems.push(...kernelProblems(name, kernel));
    const manager = managerOf(ctx.deviceManagers, settings.deviceManager);
    const devices = manager === undefined ? undefined : await manager.report(ctx, name);
    const devicesError = manager === undefined ? undefined : manager.configError(devices);
    if (devicesError !== undefined) problems.push(...devicesError.split('\n').map((line) => problem('config', name, null, line)));
    const pullRecords = (await readPullRecords(ctx.stateDir ?? '/var/lib/kvc', name)).filter((record) => ofScope(record.kernel));
    for (const record of pullRecords.filter((entry) => entry.fallback === 'none')) problems.push(problem('build', name, record.kernel, describePull(record)));
    instances.push({
      pulls: pullRecords.map((record) => `kernel ${record.kernel}: ${describePull(record)}`),
      name, config, error: null, softwareVersion: settings.softwareVersion, context: describeContext(settings.context), images, modules, toolsPid, kernels,
      ...(devices === undefined ? {} : { deviceManager: settings.deviceManager as string, devices }),
    });
  }
  const systemd = await readUnits(instances);
  return { runningKernel: ctx.runningKernel, runtime: ctx.runtime.name, configDir: ctx.configDir, instances, systemd, problems };
}

// What a built image adds to a kernel that lacks it (USB/IP on a cloud kernel: the USB core),
// read with one probe container; a probe that fails says why.
async function withProvides(ctx: Context, kernel: KernelStatus): Promise<KernelStatus> {
  if (kernel.image === null) return kernel;
  const probe = await readImageProvides(ctx, kernel.image.name);
  return 'error' in probe ? { ...kernel, probeError: probe.error } : { ...kernel, provides: probe.provides };
}

// Which recipe the kernel gets and why (issue 21), as kvc check says it, with the kernel source
// and config the instance's .conf names (KVC_KERNEL_SOURCE, KVC_KERNEL_CONFIG).
async function withRecipe(ctx: Context, kernel: KernelStatus, named: NamedKernelInputs | undefined): Promise<KernelStatus> {
  return { ...kernel, recipe: recipeCheck(kernel.kver, await recipePlanFor(ctx, kernel.kver, named)).what.replace(/^kernel \S+: /, '') };
}

// A problem of an instance (and kernel).
function problem(kind: StatusProblem['kind'], instance: string, kernel: string | null, message: string): StatusProblem {
  return { kind, instance, kernel, what: `${instance}${kernel === null ? '' : `, kernel ${kernel}`}: ${message}` };
}

// The problems one kernel's status holds: a failed build, a failed probe.
function kernelProblems(instance: string, kernel: KernelStatus): StatusProblem[] {
  return [
    ...(kernel.state === 'failed' ? [problem('build', instance, kernel.kver, `its build failed: ${kernel.reason ?? 'no reason recorded'}`)] : []),
    ...(kernel.probeError === undefined ? [] : [problem('probe', instance, kernel.kver, kernel.probeError)]),
  ];
}

// The exit status of kvc status: 78 when a configuration is broken, 70 when a build or a probe
// failed, else 0.
export function statusExit(report: StatusReport): number {
  if (report.problems.some((entry) => entry.kind === 'config')) return ExitStatus.config;
  return report.problems.length > 0 ? ExitStatus.software : ExitStatus.ok;
}

// The report as `kvc status --json` prints it.
export function statusJson(report: StatusReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
