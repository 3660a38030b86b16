// USB/IP as a device payload: the device manager KVC_DEVICE_MANAGER=usbip names (exports and
// imports per <name>.devices) and its part of `kvc status`. Listed at the program's edge
// (src/cli/payloads.ts).
import type { InstanceSettings } from '../config/settings.js';
import type { DeviceManager } from '../devices/manager.js';
import type { Context } from '../ops/context.js';
import { readUsbipDevices, startUsbipDevices } from './device-manager.js';
import { formatDevices, gatherDevices, type DevicesReport } from './devices-status.js';
import { VHCI_STATE_PATH } from './tool-records.js';

// The usbip device manager.
export const usbipDeviceManager: DeviceManager<Context, InstanceSettings> = {
  readConfig: readUsbipDevices,
  start: (ctx, settings, config, signal) => startUsbipDevices(ctx, settings, config as Awaited<ReturnType<typeof readUsbipDevices>>, signal),
  report: gatherDevices,
  format: (report) => formatDevices(report as DevicesReport),
  configError: (report) => (report as DevicesReport).error ?? undefined,
  // usbip's port records (what `usbip port` reads to name a port's server): kept on the host, where
  // the service reads them and writes those of the ports it attached itself.
  toolsState: [VHCI_STATE_PATH],
};
