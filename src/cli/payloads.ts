// The payloads this program has: the one place that lists them. A new payload is a folder of its
// own plus one line here; the core (service, ops, status) sees only the DeviceManager interface.
import type { InstanceSettings } from '../config/settings.js';
import type { DeviceManagers } from '../devices/manager.js';
import type { Context } from '../ops/context.js';
import { usbipDeviceManager } from '../usbip/payload.js';

// The device managers by the name KVC_DEVICE_MANAGER gives.
export const DEVICE_MANAGERS: DeviceManagers<Context, InstanceSettings> = new Map([
  ['usbip', usbipDeviceManager],
]);
