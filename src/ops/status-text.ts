// `kvc status` as text for a person, made from the report (status.ts) alone: every fact it shows
// is a field of `kvc status --json`, and nothing is worked out here.
import type { KernelStatus } from './kernel-status.js';
import type { InstanceStatus, StatusReport } from './status.js';
import { managerOf, type DeviceManagers } from '../devices/manager.js';
import type { InstanceSettings } from '../config/settings.js';
import type { Context } from './context.js';

// The status report as text (`managers`: the device managers whose parts it formats).
export function formatStatus(report: StatusReport, managers?: DeviceManagers<Context, InstanceSettings>): string {
  const lines = [`running kernel: ${report.runningKernel}    runtime: ${report.runtime}    config: ${report.configDir}`];
  if (report.systemd !== null) lines.push(`systemd: ${report.systemd}`);
  if (report.instances.length === 0) lines.push('no instances configured');
  for (const instance of report.instances) lines.push('', ...formatInstance(instance, managers));
  if (report.problems.length > 0) lines.push('', `problems (${report.problems.length}):`, ...report.problems.map((entry) => `  ${entry.what}`));
  return lines.join('\n');
}

// One instance's lines (`managers` format their devices' part).
function formatInstance(instance: InstanceStatus, managers: DeviceManagers<Context, InstanceSettings> | undefined): string[] {
  const lines = [`${instance.name} (${instance.config})`];
  if (instance.error !== null) return [...lines, `  configuration error: ${instance.error}`];
  lines.push(`  version: ${instance.softwareVersion}`);
  const context = instance.context;
  if (context !== null) {
    const pin = { local: 'local folder', commit: 'remote, pinned to a commit', ref: 'remote, at a branch or tag (not pinned to a commit)', none: 'remote, default branch (not pinned)' }[context.pinned];
    lines.push(`  builds from: ${context.source} (${pin})`);
  }
  if (instance.images.length === 0) lines.push('  images: none');
  for (const kernel of instance.kernels?.kernels ?? []) lines.push(`  ${formatKernel(kernel)}`);
  // Images the kernels' lines do not show: those of another KMOD_SOFTWARE_VERSION.
  const shown = new Set((instance.kernels?.kernels ?? []).flatMap((kernel) => (kernel.image === null ? [] : [kernel.image.name])));
  for (const image of instance.images.filter((entry) => !shown.has(entry.image))) {
    lines.push(`  image ${image.image} (kernel ${image.kernel}, version ${image.version}): ${formatSize(image.size)}, built ${formatTime(image.created)}`);
  }
  for (const warning of instance.kernels?.warnings ?? []) lines.push(`  warning: ${warning}`);
  for (const pull of instance.pulls ?? []) lines.push(`  registry: ${pull}`);
  const modules = instance.modules.map((m) => `${m.name}=${m.state}${m.state === 'live' && m.refcnt > 0 ? `(used ${m.refcnt})` : ''}`);
  lines.push(`  modules: ${modules.join(' ')}`);
  lines.push(`  tools container: ${instance.toolsPid === null ? 'not running' : `pid ${instance.toolsPid}`}`);
  const manager = managerOf(managers, instance.deviceManager);
  if (manager !== undefined) lines.push(...manager.format(instance.devices));
  if (instance.unit !== undefined && instance.unit !== null) {
    const unit = instance.unit;
    lines.push(`  unit: ${unit.unit} ${unit.activeState} (${unit.subState}), ${unit.unitFileState || unit.loadState}${unit.statusText === '' ? '' : `: ${unit.statusText}`}`);
  }
  return lines;
}

const formatSize = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;
const formatTime = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

// One kernel's line: "kernel 6.12.117+deb12-amd64 (next boot): localhost/usbip-1.0.0:…, 181 MB, built 2026-11-24 13:02".
export function formatKernel(kernel: KernelStatus): string {
  const roles = [kernel.running ? 'running' : '', kernel.nextBoot ? 'next boot' : '', kernel.installed || kernel.running ? '' : 'not installed'].filter((role) => role !== '');
  const head = `kernel ${kernel.kver}${roles.length > 0 ? ` (${roles.join(', ')})` : ''}: `;
  const image = kernel.image === null ? '' : `${kernel.image.name}, ${formatSize(kernel.image.size)}, built ${formatTime(kernel.image.created)}`;
  const rebuilt = kernel.installed || kernel.running || kernel.nextBoot ? ': `kvc build` or the service builds it again' : '';
  const body = {
    built: image,
    stale: `stale, ${kernel.reason ?? ''}${rebuilt}; now ${image}`,
    building: 'building now',
    queued: 'queued to build',
    failed: `build failed: ${kernel.reason ?? ''}${kernel.retryAt === null ? '' : `; next try ${kernel.retryAt.slice(0, 19).replace('T', ' ')}`}`,
    refused: `refused: ${kernel.reason ?? ''}`,
    missing: 'no image',
    'to-prune': `older than the kernels kept (KVC_KEEP_KERNELS); its images are pruned${image === '' ? ' (of another version)' : `: ${image}`}`,
    'not-kept': kernel.installed ? 'older than the kernels kept (KVC_KEEP_KERNELS): no image, none is built' : 'no image, none is built (not installed here)',
  }[kernel.state];
  const log = kernel.log !== null && ['failed', 'missing', 'building'].includes(kernel.state) ? `; log: ${kernel.log}` : '';
  const provides = kernel.probeError !== undefined
    ? `; provides: unknown, ${kernel.probeError}`
    : kernel.provides !== undefined && kernel.provides.length > 0 ? `; provides modules the kernel lacks: ${kernel.provides.join(', ')}` : '';
  return `${head}${body}${provides}${log}`;
}
