// What the core knows of a device payload (USB/IP is the first): a device manager the service runs
// while an instance's modules are loaded, and its part of `kvc status`. Payloads implement it in
// their own folder and are listed at the program's edge (src/cli/payloads.ts); nothing in the
// core names one. `C` is the context operations run with (src/ops/context.ts), kept generic so
// that this layer sits below ops.

// A device manager an instance can name with KVC_DEVICE_MANAGER.
export interface DeviceManager<C, S> {
  // Reads and checks its configuration, before anything is loaded (a ConfigError fails the start).
  readConfig(ctx: C, settings: S): Promise<unknown>;
  // Starts managing, from what readConfig returned; undefined when that asks for nothing.
  start(ctx: C, settings: S, config: unknown, signal: AbortSignal): Promise<{ close(): Promise<void> } | undefined>;
  // The status report's part (kvc status --json prints it as it is)…
  report(ctx: C, instance: string): Promise<unknown>;
  // …and that part as text lines, made from it alone.
  format(report: unknown): string[];
  // The configuration error that part holds (a devices file that cannot be read), if any.
  configError(report: unknown): string | undefined;
  // Folders (absolute paths in the image) where the payload's tools keep state that must outlive
  // one run of a tool and that the manager reads or writes from the host: each is a folder of the
  // host (toolsStateDir) bound there in the tools container.
  readonly toolsState?: readonly string[];
}

// A tools state folder's path in the image, checked: plain and absolute (no '..', nothing a bind
// mount's option list could misread).
export function checkedToolsStatePath(path: string): string {
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(path) || path.split('/').some((part) => part === '.' || part === '..')) throw new RangeError(`not a plain absolute path: ${JSON.stringify(path)}`);
  return path;
}

// The device managers the program has, by the name KVC_DEVICE_MANAGER gives.
export type DeviceManagers<C, S> = ReadonlyMap<string, DeviceManager<C, S>>;

// The manager an instance names, or undefined when it names none (or one the program lacks:
// settings refuse that when the instance is read).
export function managerOf<C, S>(managers: DeviceManagers<C, S> | undefined, name: string | undefined): DeviceManager<C, S> | undefined {
  return name === undefined ? undefined : managers?.get(name);
}
