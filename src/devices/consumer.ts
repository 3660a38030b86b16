// What a device attached for something else is handed to (a container, through the grants in
// ./grants.ts): the payload's importer asks it before attaching and tells it after. `R` is the
// payload's rule that names the device and who it is for.

// The party a device is attached for.
export interface DeviceConsumer<R> {
  // Why the device must not be attached for it now (not running, not fit), or undefined.
  blocked(rule: R): Promise<string | undefined>;
  // After the attach and on every look while attached: hand over the device's nodes as they appear.
  grant(rule: R, localBusid: string): Promise<void>;
  // Whether what it was attached for went (then it is detached).
  gone(rule: R): Promise<boolean>;
  // Take back what was handed over.
  release(rule: R): Promise<void>;
}
