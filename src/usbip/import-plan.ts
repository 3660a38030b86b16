// Which of a server's exported devices an import names, decided on the server's list alone: an
// import attaches only the one device it names exactly. Several matches are refused with the
// candidates (never an attach to find out, which would reset a device that is not it). Pure.
import { describeMatch, type ImportRule } from './devices-file.js';
import { matches } from './export-plan.js';

// One device a server exports. serial is undefined when the server did not say (plain usbipd,
// without kvc's device list): then only a bus id or a VID:PID alone can pick a device.
export interface RemoteDevice {
  readonly busid: string;
  readonly vendor: string;
  readonly product: string;
  readonly serial?: string | undefined;
  // usbip-host's state on the server when known: available, or imported by someone.
  readonly state?: 'available' | 'used' | 'error' | undefined;
}

// Which remote device an import rule resolves to, or why none (missing, or several alike).
export type Resolution =
  | { readonly kind: 'found'; readonly device: RemoteDevice }
  | { readonly kind: 'absent'; readonly why: string }
  | { readonly kind: 'ambiguous'; readonly why: string; readonly candidates: readonly RemoteDevice[] };

// Resolves an import rule against a server's device list. Pure.
export function resolveImport(rule: ImportRule, listed: readonly RemoteDevice[], serialsKnown: boolean): Resolution {
  const match = rule.match;
  const wanted = describeMatch(match);
  if (match.kind === 'id' && match.serial !== undefined && !serialsKnown) {
    return { kind: 'absent', why: `${rule.server} gives no serial numbers (kvc's device list on the server is not reachable), so ${wanted} cannot be told apart; kvc does not guess` };
  }
  const found = listed.filter((device) => matches(match, device));
  if (found.length === 0) return { kind: 'absent', why: `${rule.server} exports no ${wanted}` };
  if (found.length > 1) {
    const how = match.kind === 'id' && match.serial === undefined && serialsKnown ? 'add serial = … to the import' : 'name it by busid = … instead';
    return { kind: 'ambiguous', why: `${rule.server} exports ${found.length} devices that are ${wanted}: ${describeCandidates(found)}; ${how}`, candidates: found };
  }
  return { kind: 'found', device: found[0]! };
}

// The devices a rule could have meant, for an error message.
export function describeCandidates(devices: readonly RemoteDevice[]): string {
  return devices.map((device) => `${device.busid} (${device.vendor}:${device.product}${device.serial === undefined ? '' : ` serial ${device.serial}`})`).join(', ');
}

// The wait before the n-th attempt after a drop or failure (n from 0): base, doubling, at most max.
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}
