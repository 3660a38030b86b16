// `kvc status`: configured instances, the kernels they have images for, and their modules' state now.
import { describeError, ExitStatus } from '../errors.js';
import { loadInstanceSettings, listInstanceNames } from '../config/load.js';
import { LABEL } from '../runtime/args.js';
import type { ModuleState } from '../kernel/module-state.js';
import { moduleStatuses } from './modules.js';
import { liveToolsPid } from './tools.js';
import type { Context } from './context.js';
import type { UnitState } from '../bus/systemd.js';
import { kernelReport, type KernelReport, type KernelStatus } from './kernel-status.js';
import { describeContext } from '../config/settings.js';
import { readImageProvides } from './image-modules.js';
import { DEVICE_MANAGERS } from '../service/device-managers.js';

// One instance's report.
export interface InstanceStatus {
  readonly name: string;
  readonly config: string;
  readonly error: string | null;
  readonly softwareVersion: string | null;
  readonly context: { remote: boolean; source: string; pinned: 'local' | 'commit' | 'ref' | 'none' } | null;
  readonly images: readonly { kernel: string; image: string; id: string; size: number; created: string; running: boolean }[];
  readonly modules: readonly { name: string; state: ModuleState; refcnt: number; holders: readonly string[] }[];
  readonly toolsPid: number | null;
  // Per kernel: image built, building, queued, failed, refused, missing…; and what boots next.
  readonly kernels: KernelReport | null;
  unit?: UnitState | null;
  // The device manager's report (KVC_DEVICE_MANAGER), when the instance has one.
  readonly devices?: unknown;
  readonly deviceLines?: readonly string[];
  // What is wrong with the device manager's configuration (its file's mode, owner or content).
  readonly deviceProblem?: string;
}

// The whole report, as `kvc status --json` prints it.
export interface StatusReport {
  readonly runningKernel: string;
  readonly runtime: string;
  readonly configDir: string;
  readonly instances: readonly InstanceStatus[];
  readonly systemd: string | null;
  // Everything that makes status fail (its exit status says which kind), in the order shown.
  readonly problems: readonly StatusProblem[];
}

// One thing status found wrong.
export interface StatusProblem {
  readonly kind: 'config' | 'probe';
  readonly what: string;
}

// Reads each instance's kvc@ unit from systemd (given by the caller, which owns the bus
// connection): sets instance.unit, returns why there is none, or null.
export type UnitStateReader = (instances: InstanceStatus[]) => Promise<string | null>;

// Gathers the report for one instance or all; a broken .conf is reported, not thrown.
export async function gatherStatus(ctx: Context, keep: number, readUnits: UnitStateReader, only?: string): Promise<StatusReport> {
  const names = only === undefined ? await listInstanceNames(ctx.configDir) : [only];
  const instances: InstanceStatus[] = [];
  for (const name of names) {
    const config = `${ctx.configDir}/${name}.conf`;
    let settings;
    try {
      settings = await loadInstanceSettings(ctx.configDir, name);
    } catch (error) {
      if (only !== undefined) throw error;
      instances.push({ name, config, error: describeError(error), softwareVersion: null, context: null, images: [], modules: [], toolsPid: null, kernels: null });
      continue;
    }
    const listed = await ctx.runtime.imagesWithLabel(LABEL.instance, name);
    const images = listed
      .map((image) => {
        const kernel = image.labels[LABEL.kernel] ?? '';
        return { kernel, image: image.names[0] ?? '<none>', id: image.id.slice(0, 12), size: image.size, created: image.created, running: kernel === ctx.runningKernel };
      })
      .sort((a, b) => a.kernel.localeCompare(b.kernel, undefined, { numeric: true }));
    const modules = [...(await moduleStatuses(ctx, settings.modules)).values()].map((m) => ({ name: m.name, state: m.state, refcnt: m.refcnt, holders: m.holders }));
    const toolsPid = (await liveToolsPid(ctx, name, ctx.runningKernel)) ?? null;
    const report = await kernelReport(ctx, settings, listed, keep);
    // What each built image adds to a kernel that lacks it (USB/IP on a cloud kernel: the USB core).
    const kernels = {
      ...report,
      kernels: await Promise.all(report.kernels.map(async (kernel) => {
        if (kernel.image === null) return kernel;
        const probed = await readImageProvides(ctx, kernel.image.name);
        return 'error' in probed ? { ...kernel, probeError: probed.error } : { ...kernel, provides: probed.provides };
      })),
    };
    const manager = settings.deviceManager === undefined ? undefined : DEVICE_MANAGERS[settings.deviceManager];
    const devices = manager === undefined ? undefined : await manager.report(ctx, name);
    instances.push({
      name, config, error: null, softwareVersion: settings.softwareVersion, context: describeContext(settings.context), images, modules, toolsPid, kernels,
      ...(devices === undefined ? {} : { devices: devices.json, deviceLines: devices.lines }),
      ...(devices?.problem === undefined ? {} : { deviceProblem: devices.problem }),
    });
  }
  const systemd = await readUnits(instances);
  return { runningKernel: ctx.runningKernel, runtime: ctx.runtime.name, configDir: ctx.configDir, instances, systemd, problems: problemsOf(instances) };
}

// What status found wrong, one line each: configuration errors, then probes that failed.
export function problemsOf(instances: readonly InstanceStatus[]): StatusProblem[] {
  return instances.flatMap((instance): StatusProblem[] => [
    ...(instance.error === null ? [] : [{ kind: 'config' as const, what: `${instance.name}: ${instance.error}` }]),
    ...(instance.deviceProblem === undefined ? [] : [{ kind: 'config' as const, what: `${instance.name}: ${instance.deviceProblem}` }]),
    ...(instance.kernels?.kernels ?? []).flatMap((kernel) => (kernel.probeError === undefined ? [] : [{ kind: 'probe' as const, what: `${instance.name}, kernel ${kernel.kver}: ${kernel.probeError}` }])),
  ]);
}

// The exit status of kvc status: 78 when a configuration is broken, 70 when a probe failed, else 0.
export function statusExit(report: StatusReport): number {
  if (report.problems.some((problem) => problem.kind === 'config')) return ExitStatus.config;
  return report.problems.length > 0 ? ExitStatus.software : ExitStatus.ok;
}

// The report as text for a person.
export function formatStatus(report: StatusReport): string {
  const lines = [`running kernel: ${report.runningKernel}    runtime: ${report.runtime}    config: ${report.configDir}`];
  if (report.systemd !== null) lines.push(`systemd: ${report.systemd}`);
  if (report.instances.length === 0) lines.push('no instances configured');
  for (const instance of report.instances) {
    lines.push('', `${instance.name} (${instance.config})`);
    if (instance.error !== null) {
      lines.push(`  configuration error: ${instance.error}`);
      continue;
    }
    lines.push(`  version: ${instance.softwareVersion}`);
    const context = instance.context;
    if (context !== null) {
      const pin = { local: 'local folder', commit: 'remote, pinned to a commit', ref: 'remote, at a branch or tag (not pinned to a commit)', none: 'remote, default branch (not pinned)' }[context.pinned];
      lines.push(`  builds from: ${context.source} (${pin})`);
    }
    if (instance.images.length === 0) lines.push('  images: none built');
    for (const kernel of instance.kernels?.kernels ?? []) lines.push(`  ${formatKernel(kernel, instance.images)}`);
    for (const warning of instance.kernels?.warnings ?? []) lines.push(`  warning: ${warning}`);
    const modules = instance.modules.map((m) => `${m.name}=${m.state}${m.state === 'live' && m.refcnt > 0 ? `(used ${m.refcnt})` : ''}`);
    lines.push(`  modules: ${modules.join(' ')}`);
    lines.push(`  tools container: ${instance.toolsPid === null ? 'not running' : `pid ${instance.toolsPid}`}`);
    lines.push(...(instance.deviceLines ?? []));
    if (instance.unit !== undefined && instance.unit !== null) {
      const unit = instance.unit;
      lines.push(`  unit: ${unit.unit} ${unit.activeState} (${unit.subState}), ${unit.unitFileState || unit.loadState}${unit.statusText === '' ? '' : `: ${unit.statusText}`}`);
    }
  }
  if (report.problems.length > 0) lines.push('', `problems (${report.problems.length}):`, ...report.problems.map((problem) => `  ${problem.what}`));
  return lines.join('\n');
}

// One kernel's line: "6.12.117+deb12-amd64 (next boot): built 2026-11-24 13:02, 181 MB, localhost/usbip-1.0.0:…".
// `images`: the instance's images of any version, for a kernel whose image is of another version.
function formatKernel(kernel: KernelStatus, images: InstanceStatus['images']): string {
  const roles = [kernel.running ? 'running' : '', kernel.nextBoot ? 'next boot' : '', kernel.installed || kernel.running ? '' : 'not installed'].filter((role) => role !== '');
  const head = `kernel ${kernel.kver}${roles.length > 0 ? ` (${roles.join(', ')})` : ''}: `;
  const image = kernel.image === null ? '' : `${kernel.image.name}, ${(kernel.image.size / 1e6).toFixed(0)} MB, built ${kernel.image.created.slice(0, 16).replace('T', ' ')}`;
  const otherImage = kernel.image === null ? images.find((image) => image.kernel === kernel.kver) : undefined;
  const body = {
    built: image,
    stale: `${kernel.reason ?? ''}: \`kvc build\` or the service builds it again; now ${image}`,
    building: 'building now',
    queued: 'queued to build',
    failed: `build failed: ${kernel.reason ?? ''}${kernel.retryAt === null ? '' : `; next try ${kernel.retryAt.slice(0, 19).replace('T', ' ')}`}`,
    refused: `refused: ${kernel.reason ?? ''}`,
    missing: otherImage === undefined ? 'no image' : `no image of this version (there is ${otherImage.image}, of another version)`,
    'to-prune': `older than the kernels kept (KVC_KEEP_KERNELS); its image is pruned: ${image}`,
    'not-kept': `older than the kernels kept (KVC_KEEP_KERNELS): not built${otherImage === undefined ? '' : ` for this version (there is ${otherImage.image}, of another version)`}`,
  }[kernel.state];
  const log = kernel.log !== null && ['failed', 'missing', 'building'].includes(kernel.state) ? `; log: ${kernel.log}` : '';
  const provides = kernel.probeError !== undefined ? `; what it provides could not be read: ${kernel.probeError}`
    : kernel.provides !== undefined && kernel.provides.length > 0 ? `; provides modules the kernel lacks: ${kernel.provides.join(', ')}` : '';
  return `${head}${body}${provides}${log}`;
}
