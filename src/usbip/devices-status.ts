// `kvc status usbip`'s devices: what the service exports (bus id, VID:PID, serial, state, who
// imported it), what it keeps attached (port, server, device, since, reconnects) and what is
// configured but not there; per export who may attach it (a warning for `clients = any`); the
// WireGuard tunnel and its peers.
import { errorLines } from '../errors.js';
import type { Context } from '../ops/context.js';
import { readDevicesFile } from './devices-file.js';
import { devicesFilePath } from './device-manager.js';
import { readDevicesState, type UsbipDevicesState } from './devices-state.js';
import { describeClients } from './clients.js';

// The devices part of `kvc status --json`: the file, whether it is configured, the service's state, a config error.
export interface DevicesReport {
  readonly file: string;
  readonly configured: boolean;
  // The running service's view; null when it does not run (or manages no devices).
  readonly service: UsbipDevicesState | null;
  readonly error: string | null;
  // Each export's clients as the file names them ("10.77.0.2, 10.77.1.0/24" or "any").
  readonly clients: Readonly<Record<string, string>>;
}

// Reads the devices part of the status report for an instance.
export async function gatherDevices(ctx: Context, instance: string): Promise<DevicesReport> {
  const file = devicesFilePath(ctx, instance);
  try {
    const config = await readDevicesFile(file);
    const clients = Object.fromEntries((config?.exports ?? []).map((rule) => [rule.name, describeClients(rule.clients)]));
    return { file, configured: config !== undefined, service: readDevicesState(ctx, instance) ?? null, error: null, clients };
  } catch (error) {
    return { file, configured: true, service: null, error: errorLines(error).join('\n'), clients: {} };
  }
}

// The devices part of the report as text lines for `kvc status`.
export function formatDevices(report: DevicesReport): string[] {
  if (!report.configured) return [];
  if (report.error !== null) return report.error.split('\n').map((line) => `  devices: ${line}`);
  const state = report.service;
  const open = Object.entries(report.clients).filter(([, clients]) => clients === 'any').map(([name]) => name);
  const warnings = open.map((name) => `  warning: export ${name}: clients = any: anyone who can reach this host can list and attach it`);
  if (state === null) return [`  devices (${report.file}): the service is not running, nothing is exported or attached by it`, ...warnings];
  const lines = [`  devices (${report.file}):`];
  const may = (rule: string): string => `; clients: ${report.clients[rule] ?? '?'}`;
  for (const entry of state.exported) {
    lines.push(`    export ${entry.rule}: ${entry.busid} ${entry.vendor}:${entry.product}${entry.serial === null ? '' : ` serial ${entry.serial}`}: ${entry.state}${entry.importedBy === null ? '' : ` by ${entry.importedBy}`}${may(entry.rule)}`);
  }
  for (const name of state.missing) lines.push(`    export ${name}: configured, not plugged in${may(name)}`);
  if (state.tunnel !== null) {
    const tunnel = state.tunnel;
    lines.push(`    tunnel ${tunnel.interface}: ${tunnel.address}, UDP port ${tunnel.port}, this host's public key ${tunnel.publicKey}${tunnel.peers.length === 0 ? '; no peers (kvc usbip peer add)' : ''}`);
    for (const peer of tunnel.peers) lines.push(`      peer ${peer.name}: ${peer.address}${peer.endpoint === null ? ' (it makes the first contact)' : `, at ${peer.endpoint}`}`);
  }
  for (const entry of state.imports) {
    const what = `${entry.device} from ${entry.server}${entry.container === null ? '' : ` for container ${entry.container}`}`;
    if (entry.state === 'attached') {
      lines.push(`    import ${entry.rule}: ${what}: attached ${entry.busid} on port ${entry.port} (vhci_hcd.${entry.controller ?? '?'}), local bus id ${entry.localBusid}, since ${entry.since?.slice(0, 19).replace('T', ' ')}, reconnects ${entry.reconnects}`);
    } else {
      lines.push(`    import ${entry.rule}: ${what}: ${entry.state === 'refused' ? 'refused' : 'not attached'}: ${entry.why ?? ''}${entry.nextTry === null ? '' : `; next try ${entry.nextTry.slice(11, 19)}`}${entry.reconnects > 0 ? `; reconnects ${entry.reconnects}` : ''}`);
    }
  }
  return [...lines, ...warnings];
}
