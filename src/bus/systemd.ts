// systemd over D-Bus (org.freedesktop.systemd1): unit state, enable/disable, start/stop with the
// job's result, as `systemctl` does them.
import type dbus from 'dbus-next';
import { ExitStatus, KvcError } from '../errors.js';
import { withTimeout } from './system-bus.js';

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT = 'org.freedesktop.systemd1.Unit';
const SERVICE = 'org.freedesktop.systemd1.Service';
const PROPERTIES = 'org.freedesktop.DBus.Properties';

// What `kvc status` shows of a unit.
export interface UnitState {
  readonly unit: string;
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly statusText: string;
  readonly unitFileState: string;
}

// A systemd job that did not finish "done".
export class JobFailedError extends KvcError {
  override readonly exitStatus = ExitStatus.software;
}

// The unit name of an instance.
export function unitName(instance: string): string {
  return `kvc@${instance}.service`;
}

function variantValue(value: unknown): unknown {
  return value !== null && typeof value === 'object' && 'value' in value ? (value as { value: unknown }).value : value;
}

// A client of systemd's manager on an open bus.
export class Systemd {
  private readonly bus: dbus.MessageBus;
  private manager: dbus.ClientInterface | undefined;

  constructor(bus: dbus.MessageBus) {
    this.bus = bus;
  }

  private async managerInterface(): Promise<dbus.ClientInterface> {
    if (this.manager === undefined) {
      const object = await this.bus.getProxyObject(SYSTEMD, MANAGER_PATH);
      this.manager = object.getInterface(MANAGER);
    }
    return this.manager;
  }

  // The state of a unit (loaded on demand, as `systemctl show` does).
  async unitState(unit: string): Promise<UnitState> {
    const manager = await this.managerInterface();
    const path = String(await manager['LoadUnit']!(unit));
    const object = await this.bus.getProxyObject(SYSTEMD, path);
    const properties = object.getInterface(PROPERTIES);
    const get = async (iface: string, name: string) => String(variantValue(await properties['Get']!(iface, name)) ?? '');
    const [loadState, activeState, subState, unitFileState] = await Promise.all([
      get(UNIT, 'LoadState'), get(UNIT, 'ActiveState'), get(UNIT, 'SubState'), get(UNIT, 'UnitFileState'),
    ]);
    const statusText = loadState === 'loaded' ? await get(SERVICE, 'StatusText').catch(() => '') : '';
    return { unit, loadState, activeState, subState, statusText, unitFileState };
  }

  // Enables the unit (EnableUnitFiles, then Reload), as `systemctl enable`.
  async enable(unit: string): Promise<void> {
    const manager = await this.managerInterface();
    await manager['EnableUnitFiles']!([unit], false, true);
    await manager['Reload']!();
  }

  // Disables the unit (DisableUnitFiles, then Reload), as `systemctl disable`.
  async disable(unit: string): Promise<void> {
    const manager = await this.managerInterface();
    await manager['DisableUnitFiles']!([unit], false);
    await manager['Reload']!();
  }

  // Starts or stops the unit and waits for its job to be removed; resolves with the job result.
  async runJob(method: 'StartUnit' | 'StopUnit' | 'RestartUnit', unit: string, timeoutMs: number): Promise<string> {
    const manager = await this.managerInterface();
    await manager['Subscribe']!().catch(() => undefined);
    let jobPath: string | undefined;
    const early = new Map<string, string>();
    let settle: ((result: string) => void) | undefined;
    const onRemoved = (_id: number, job: string, _unit: string, result: string) => {
      if (jobPath === undefined) early.set(job, result);
      else if (job === jobPath) settle?.(result);
    };
    manager.on('JobRemoved', onRemoved);
    try {
      const finished = new Promise<string>((resolve) => { settle = resolve; });
      jobPath = String(await manager[method]!(unit, 'replace'));
      const already = early.get(jobPath);
      if (already !== undefined) return already;
      return await withTimeout(finished, timeoutMs, `${unit}: the ${method} job did not finish in ${Math.round(timeoutMs / 1000)} s`);
    } finally {
      manager.off('JobRemoved', onRemoved);
    }
  }
}
