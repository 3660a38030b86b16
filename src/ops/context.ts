// What every operation is given: the runtime adapter, the logger and the host paths it works on.
import { join } from 'node:path';
import type { RuntimePort } from '../runtime/port.js';
import { HOST_WRITES, type HostWrites } from '../host/host-writes.js';
import type { Logger } from '../log/logger.js';
import type { InstanceSettings } from '../config/settings.js';
import { DEFAULT_KEY_LOCATIONS, type KeyLocations } from '../signing/key-choice.js';
import type { ConfiguredSigningKey } from '../config/signing-settings.js';
import type { GlobalRegistry } from '../config/registry-settings.js';
import { checkedToolsStatePath, type DeviceManagers } from '../devices/manager.js';

// Dependencies and paths, passed in (no module-level state).
export interface Context {
  // The device managers the program has (src/cli/payloads.ts lists them); none when absent.
  readonly deviceManagers?: DeviceManagers<Context, InstanceSettings>;
  readonly configDir: string;
  readonly runtime: RuntimePort;
  // The writes to the host's files (a dry run's prints them); HOST_WRITES when absent.
  readonly host?: HostWrites;
  readonly logger: Logger;
  // The host's root for /sys, /proc, /boot and /lib/modules ("/" except in tests).
  readonly hostRoot: string;
  // kvc's runtime state (tools container PID files, locks): /run/kvc.
  readonly runDir: string;
  // Where build logs are kept (/var/log/kvc); none are kept when absent.
  readonly logDir?: string;
  // The running kernel's release.
  readonly runningKernel: string;
  // Whether progress may be drawn for a person (stderr is a TTY).
  readonly interactive: boolean;
  // Aborted on SIGINT/SIGTERM: a running build is stopped and cleaned up.
  readonly signal?: AbortSignal;
  // kvc's lasting state (the host commands' tool-run records): /var/lib/kvc.
  readonly stateDir?: string;
  // Where kvc's own and DKMS's module signing keys are (default /var/lib/kvc/keys, /var/lib/dkms).
  readonly keys?: KeyLocations;
  // KVC_SIGN_KEY and KVC_SIGN_CERT of kvc.conf, when set (the first choice of signing key).
  readonly signingKey?: ConfiguredSigningKey | undefined;
  // kvc.conf's registry keys (KVC_IMAGE_REPO …): images are pulled, verified, before any build.
  readonly registry?: GlobalRegistry | undefined;
}

// How the context writes to the host: its port, or the real writes.
export function hostWrites(ctx: Pick<Context, 'host'>): HostWrites {
  return ctx.host ?? HOST_WRITES;
}

// The signing key folders of a context.
export function keyLocations(ctx: Context): KeyLocations {
  return ctx.keys ?? DEFAULT_KEY_LOCATIONS;
}

// The names of the device managers the program has (what KVC_DEVICE_MANAGER may name).
export function deviceManagerNames(ctx: Pick<Context, 'deviceManagers'>): string[] {
  return [...(ctx.deviceManagers?.keys() ?? [])];
}

// The name of the tools container that stays up while an instance is loaded.
export function toolsContainerName(instance: string): string {
  return `kvc-${instance}-tools`;
}

// The file holding the tools container's PID; the host commands read it.
export function toolsPidFile(ctx: Context, instance: string): string {
  return join(ctx.runDir, instance, 'tools.pid');
}

// The host folder bound at `path` in an instance's tools container (a payload's tools state,
// DeviceManager.toolsState): <run-dir>/<instance>/tools-state<path>.
export function toolsStateDir(ctx: Pick<Context, 'runDir'>, instance: string, path: string): string {
  return join(ctx.runDir, instance, 'tools-state', checkedToolsStatePath(path));
}

// /sys of the host.
export function sysRoot(ctx: Context): string {
  return join(ctx.hostRoot, 'sys');
}

// /proc of the host.
export function procRoot(ctx: Context): string {
  return join(ctx.hostRoot, 'proc');
}
