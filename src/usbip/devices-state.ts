// The device manager's state for `kvc status`, as <runDir>/<name>/devices.json.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../ops/context.js';
import { publishState, readPublishedState } from '../host/published-state.js';
import type { UsbipDevicesState } from './device-manager.js';

function statePath(ctx: Pick<Context, 'runDir'>, name: string): string {
  return join(ctx.runDir, name, 'devices.json');
}

export function writeDevicesState(ctx: Context, name: string, state: UsbipDevicesState): void {
  publishState(statePath(ctx, name), state, ctx.logger);
}

export function removeDevicesState(ctx: Pick<Context, 'runDir'>, name: string): void {
  rmSync(statePath(ctx, name), { force: true });
}

export function readDevicesState(ctx: Pick<Context, 'runDir'>, name: string): UsbipDevicesState | undefined {
  return readPublishedState<UsbipDevicesState>(statePath(ctx, name));
}
