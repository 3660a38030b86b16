// The device managers an instance can name (KVC_DEVICE_MANAGER): what the service runs while the
// instance's modules are loaded, and what `kvc status` shows of it. Each lives with its payload.
import type { Context } from '../ops/context.js';
import type { InstanceSettings } from '../config/settings.js';
import { readUsbipDevices, startUsbipDevices } from '../usbip/device-manager.js';
import { formatDevices, gatherDevices, type DevicesReport } from '../usbip/devices-status.js';

export interface DeviceManager {
  // Reads and checks its configuration, before anything is loaded (a ConfigError fails the start).
  readConfig(ctx: Context, settings: InstanceSettings): Promise<unknown>;
  // Starts managing, from what readConfig returned; undefined when that asks for nothing.
  start(ctx: Context, settings: InstanceSettings, config: unknown, signal: AbortSignal): Promise<{ close(): Promise<void> } | undefined>;
  // The status report's part (kvc status --json prints it as it is)…
  report(ctx: Context, instance: string): Promise<unknown>;
  // …and that part as text lines, made from it alone.
  format(report: unknown): string[];
  // The configuration error that part holds (a devices file that cannot be read), if any.
  configError(report: unknown): string | undefined;
}

export const DEVICE_MANAGERS: Readonly<Record<string, DeviceManager>> = {
  usbip: {
    readConfig: readUsbipDevices,
    start: (ctx, settings, config, signal) => startUsbipDevices(ctx, settings, config as Awaited<ReturnType<typeof readUsbipDevices>>, signal),
    report: gatherDevices,
    format: (report) => formatDevices(report as DevicesReport),
    configError: (report) => (report as DevicesReport).error ?? undefined,
  },
};
