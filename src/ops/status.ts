// `kvc status`: configured instances, the kernels they have images for, and their modules' state now.
import { describeError } from '../errors.js';
import { loadInstanceSettings, listInstanceNames } from '../config/load.js';
import { LABEL } from '../runtime/args.js';
import type { ModuleState } from '../kernel/module-state.js';
import { moduleStatuses } from './modules.js';
import { liveToolsPid } from './tools.js';
import type { Context } from './context.js';
import { connectSystemBus } from '../bus/system-bus.js';
import { Systemd, unitName, type UnitState } from '../bus/systemd.js';
import { describeContext } from '../config/settings.js';

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
  unit?: UnitState | null;
}

// The whole report, as `kvc status --json` prints it.
export interface StatusReport {
  readonly runningKernel: string;
  readonly runtime: string;
  readonly configDir: string;
  readonly instances: readonly InstanceStatus[];
  readonly systemd: string | null;
}

// Gathers the report for one instance or all; a broken .conf is reported, not thrown.
export async function gatherStatus(ctx: Context, only?: string): Promise<StatusReport> {
  const names = only === undefined ? await listInstanceNames(ctx.configDir) : [only];
  const instances: InstanceStatus[] = [];
  for (const name of names) {
    const config = `${ctx.configDir}/${name}.conf`;
    let settings;
    try {
      settings = await loadInstanceSettings(ctx.configDir, name);
    } catch (error) {
      if (only !== undefined) throw error;
      instances.push({ name, config, error: describeError(error), softwareVersion: null, context: null, images: [], modules: [], toolsPid: null });
      continue;
    }
    const images = (await ctx.runtime.imagesWithLabel(LABEL.instance, name))
      .map((image) => {
        const kernel = image.labels[LABEL.kernel] ?? '';
        return { kernel, image: image.names[0] ?? '<none>', id: image.id.slice(0, 12), size: image.size, created: image.created, running: kernel === ctx.runningKernel };
      })
      .sort((a, b) => a.kernel.localeCompare(b.kernel, undefined, { numeric: true }));
    const modules = [...(await moduleStatuses(ctx, settings.modules)).values()].map((m) => ({ name: m.name, state: m.state, refcnt: m.refcnt, holders: m.holders }));
    const toolsPid = (await liveToolsPid(ctx, name, ctx.runningKernel)) ?? null;
    instances.push({ name, config, error: null, softwareVersion: settings.softwareVersion, context: describeContext(settings.context), images, modules, toolsPid });
  }
  const systemd = await addUnitStates(instances);
  return { runningKernel: ctx.runningKernel, runtime: ctx.runtime.name, configDir: ctx.configDir, instances, systemd };
}

// Adds each instance's kvc@ unit state from systemd; returns why there is none, or null.
async function addUnitStates(instances: InstanceStatus[]): Promise<string | null> {
  let bus;
  try {
    bus = await connectSystemBus();
  } catch (error) {
    for (const instance of instances) instance.unit = null;
    return describeError(error);
  }
  try {
    const systemd = new Systemd(bus);
    for (const instance of instances) instance.unit = await systemd.unitState(unitName(instance.name)).catch(() => null);
    return null;
  } finally {
    bus.disconnect();
  }
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
    for (const image of instance.images) {
      lines.push(`  image: ${image.image}  ${(image.size / 1e6).toFixed(0)} MB${image.running ? '  (running kernel)' : ''}`);
    }
    const modules = instance.modules.map((m) => `${m.name}=${m.state}${m.state === 'live' && m.refcnt > 0 ? `(used ${m.refcnt})` : ''}`);
    lines.push(`  modules: ${modules.join(' ')}`);
    lines.push(`  tools container: ${instance.toolsPid === null ? 'not running' : `pid ${instance.toolsPid}`}`);
    if (instance.unit !== undefined && instance.unit !== null) {
      const unit = instance.unit;
      lines.push(`  unit: ${unit.unit} ${unit.activeState} (${unit.subState}), ${unit.unitFileState || unit.loadState}${unit.statusText === '' ? '' : `: ${unit.statusText}`}`);
    }
  }
  return lines.join('\n');
}
