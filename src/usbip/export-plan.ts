// What the exporting side does with the devices present now: which to bind to usbip-host, which
// to take back (bound but not configured: nothing unnamed is exported), which rules match nothing.
// Pure: the service carries it out.
import type { DeviceMatch, ExportRule } from './devices-file.js';
import type { UsbDevice } from './usb-sysfs.js';

// What the exporter should do now: devices to bind (with their rule) and bus ids to unbind.
export interface ExportPlan {
  // Configured and present: each with the rule that names it.
  readonly exported: readonly { readonly device: UsbDevice; readonly rule: string }[];
  // Of those, the ones not bound to usbip-host yet.
  readonly bind: readonly { readonly device: UsbDevice; readonly rule: string }[];
  // Bound to usbip-host but named by no rule.
  readonly unbind: readonly UsbDevice[];
  // Rules that name no present device.
  readonly missing: readonly string[];
}

// Whether a local USB device is the one a rule names (port, or VID:PID and serial).
export function matches(match: DeviceMatch, device: { busid: string; vendor: string; product: string; serial?: string | undefined }): boolean {
  if (match.kind === 'busid') return device.busid === match.busid;
  return device.vendor === match.vendor && device.product === match.product && (match.serial === undefined || device.serial === match.serial);
}

// The exporter's plan from the rules and the devices present and bound now. Pure.
export function planExports(rules: readonly ExportRule[], devices: readonly UsbDevice[]): ExportPlan {
  const exported: { device: UsbDevice; rule: string }[] = [];
  const unbind: UsbDevice[] = [];
  const used = new Set<string>();
  for (const device of devices) {
    const rule = rules.find((candidate) => matches(candidate.match, device));
    if (rule === undefined) {
      if (device.driver === 'usbip-host') unbind.push(device);
      continue;
    }
    used.add(rule.name);
    exported.push({ device, rule: rule.name });
  }
  return {
    exported,
    bind: exported.filter(({ device }) => device.driver !== 'usbip-host'),
    unbind: rules.length === 0 ? [] : unbind,
    missing: rules.filter((rule) => !used.has(rule.name)).map((rule) => rule.name),
  };
}
