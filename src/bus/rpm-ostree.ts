// The kernel of a CoreOS host's staged deployment, from rpm-ostree's D-Bus interface.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type dbus from 'dbus-next';

const RPMOSTREE = 'org.projectatomic.rpmostree1';
const SYSROOT_PATH = '/org/projectatomic/rpmostree1/Sysroot';
const SYSROOT = 'org.projectatomic.rpmostree1.Sysroot';

function plain(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'signature' in value && 'value' in value) return plain((value as { value: unknown }).value);
  return value;
}

// Whether ostree booted this host (it creates /run/ostree-booted): only there can rpm-ostree stage
// a kernel, so only there is the bus asked.
export function ostreeBooted(hostRoot: string): boolean {
  return existsSync(join(hostRoot, 'run/ostree-booted'));
}

// The kernel release of the staged (or pending, not booted) deployment in rpm-ostree's
// Deployments property, read from its base commit's "ostree.linux" metadata. Pure, for tests.
export function stagedKernel(deployments: unknown): string | undefined {
  if (!Array.isArray(deployments)) return undefined;
  for (const item of deployments) {
    const deployment = plain(item) as Record<string, unknown>;
    if (deployment === null || typeof deployment !== 'object') continue;
    const staged = plain(deployment['staged']) === true;
    const booted = plain(deployment['booted']) === true;
    if (!staged || booted) continue;
    const meta = plain(deployment['base-commit-meta']) as Record<string, unknown> | undefined;
    const kernel = meta === undefined ? undefined : plain(meta['ostree.linux']);
    if (typeof kernel === 'string' && kernel !== '') return kernel;
  }
  return undefined;
}

// Watches rpm-ostree's deployments; calls onStaged with the staged kernel each time they change,
// undefined once none is staged (a cleanup, or a rollback). Resolves false (and stays silent)
// where rpm-ostree is not on the bus.
export async function watchStagedKernel(bus: dbus.MessageBus, onStaged: (kver: string | undefined) => void): Promise<boolean> {
  let sysroot: dbus.ProxyObject;
  try {
    sysroot = await bus.getProxyObject(RPMOSTREE, SYSROOT_PATH);
  } catch {
    return false;
  }
  if (!(SYSROOT in sysroot.interfaces)) return false;
  const properties = sysroot.getInterface('org.freedesktop.DBus.Properties');
  const check = async () => {
    const deployments = plain(await properties['Get']!(SYSROOT, 'Deployments').catch(() => undefined));
    if (deployments !== undefined) onStaged(stagedKernel(deployments));
  };
  properties.on('PropertiesChanged', (iface: string, changed: Record<string, unknown>) => {
    if (iface === SYSROOT && 'Deployments' in changed) void check();
  });
  await check();
  return true;
}
