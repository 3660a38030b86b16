// The device managers an instance can name (KVC_DEVICE_MANAGER): what the service runs while the
// instance's modules are loaded, and what `kvc status` shows of it. Each lives with its payload.
import type { Context } from '../ops/context.js';
import type { InstanceSettings } from '../config/settings.js';
import { startUsbipDevices } from '../usbip/device-manager.js';
import { formatDevices, gatherDevices } from '../usbip/devices-status.js';

export interface DeviceManager {
  // Starts managing; undefined when the instance's devices file asks for nothing.
  start(ctx: Context, settings: InstanceSettings, toolsPid: number, signal: AbortSignal): Promise<{ close(): Promise<void> } | undefined>;
  // The status report's part, as JSON and as text lines.
  report(ctx: Context, instance: string): Promise<{ json: unknown; lines: string[] }>;
}

export const DEVICE_MANAGERS: Readonly<Record<string, DeviceManager>> = {
  usbip: {
    start: startUsbipDevices,
    report: async (ctx, instance) => {
      const report = await gatherDevices(ctx, instance);
      return { json: report, lines: formatDevices(report) };
    },
  },
};
