// The device manager's state for `kvc status`, as <runDir>/<name>/devices.json: its shape, its
// writer, and a reader that checks every field before status believes it.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../ops/context.js';
import { isDamaged, publishState, readPublishedState } from '../host/published-state.js';
import { Fields, stringItem } from '../host/json-shape.js';
import type { Logger } from '../log/logger.js';
import type { ExportedState } from './exporter.js';
import type { ImportState } from './importer.js';

// The WireGuard tunnel the service brought up ([tunnel] in the devices file): this host's end and
// the peers kvcwg carries.
export interface TunnelState {
  readonly interface: string;
  readonly address: string;
  readonly port: number;
  readonly publicKey: string;
  readonly peers: readonly { readonly name: string; readonly address: string; readonly endpoint: string | null }[];
}

// What the service publishes: each export, the rules with no device, each import, the tunnel.
export interface UsbipDevicesState {
  readonly pid: number;
  readonly updated: string;
  readonly file: string;
  readonly exported: readonly ExportedState[];
  readonly missing: readonly string[];
  readonly imports: readonly ImportState[];
  // null without a [tunnel].
  readonly tunnel: TunnelState | null;
}

function statePath(ctx: Pick<Context, 'runDir'>, name: string): string {
  return join(ctx.runDir, name, 'devices.json');
}

// Publishes the state (a failure is logged: status is a courtesy).
export function writeDevicesState(ctx: Context, name: string, state: UsbipDevicesState): void {
  publishState(statePath(ctx, name), state, ctx.logger);
}

// Removes the published state (the device manager stopped).
export function removeDevicesState(ctx: Pick<Context, 'runDir'>, name: string): void {
  rmSync(statePath(ctx, name), { force: true });
}

// The running service's device state, or undefined when none runs; a damaged file is not believed
// (undefined, and a warning naming the field).
export function readDevicesState(ctx: Pick<Context, 'runDir'> & { readonly logger?: Pick<Logger, 'warn'> }, name: string): UsbipDevicesState | undefined {
  const read = readPublishedState(statePath(ctx, name), checkDevicesState);
  if (!isDamaged(read)) return read;
  ctx.logger?.warn(`ignoring ${read.damaged}, which is damaged (${read.why})`);
  return undefined;
}

const EXPORT_STATES: readonly ExportedState['state'][] = ['exported', 'imported', 'error', 'binding'];
const IMPORT_STATES: readonly ImportState['state'][] = ['attached', 'waiting', 'refused'];

// The file's JSON read into a UsbipDevicesState, field by field (ShapeError on the first that is wrong).
export function checkDevicesState(value: unknown): UsbipDevicesState {
  const fields = new Fields(value);
  return {
    pid: fields.integer('pid'),
    updated: fields.string('updated'),
    file: fields.string('file'),
    exported: fields.array('exported', (item, path) => {
      const entry = new Fields(item, path);
      return {
        rule: entry.string('rule'), busid: entry.string('busid'), vendor: entry.string('vendor'), product: entry.string('product'),
        serial: entry.stringOrNull('serial'), state: entry.oneOf('state', EXPORT_STATES), importedBy: entry.stringOrNull('importedBy'),
      };
    }),
    missing: fields.array('missing', stringItem),
    imports: fields.array('imports', (item, path) => {
      const entry = new Fields(item, path);
      return {
        rule: entry.string('rule'), server: entry.string('server'), device: entry.string('device'), container: entry.stringOrNull('container'),
        state: entry.oneOf('state', IMPORT_STATES), busid: entry.stringOrNull('busid'), port: entry.integerOrNull('port'),
        controller: entry.integerOrNull('controller'), localBusid: entry.stringOrNull('localBusid'), adopted: entry.boolean('adopted'),
        since: entry.stringOrNull('since'), reconnects: entry.integer('reconnects'), why: entry.stringOrNull('why'), nextTry: entry.stringOrNull('nextTry'),
      };
    }),
    tunnel: fields.objectOrNull('tunnel', (item, path) => {
      const tunnel = new Fields(item, path);
      return {
        interface: tunnel.string('interface'), address: tunnel.string('address'), port: tunnel.integer('port'), publicKey: tunnel.string('publicKey'),
        peers: tunnel.array('peers', (peer, at) => {
          const one = new Fields(peer, at);
          return { name: one.string('name'), address: one.string('address'), endpoint: one.stringOrNull('endpoint') };
        }),
      };
    }),
  };
}
