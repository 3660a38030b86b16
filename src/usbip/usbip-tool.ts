// The real usbip tool, run from the instance's image in the tools container's mount namespace
// (the host's network and /sys), as the host command runs it; and what its output says.
import { captureInMountNamespace } from '../host/nsenter.js';
import type { RemoteDevice } from './import-plan.js';

export const USBIP = '/usr/sbin/usbip';
export const USBIPD = '/usr/sbin/usbipd';
// The tools run by the service as uid 0 with no capabilities at all, as in the tools container:
// they write root-owned sysfs files (bind, attach, detach, usbipd's sockfd), which the owner may
// do without any, and usbipd listens on a port above 1024. setpriv is the image's (util-linux).
export const WITHOUT_CAPABILITIES = ['/usr/bin/setpriv', '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--'] as const;

export interface ToolResult {
  readonly ok: boolean;
  // What the tool said on failure, one line (its last stderr line).
  readonly said: string;
  readonly stdout: string;
}

// One run: cancelled when the signal aborts (the runner's own signal cancels it too).
export interface RunOptions {
  readonly signal?: AbortSignal | undefined;
}

export type UsbipRunner = (args: readonly string[], options?: RunOptions) => Promise<ToolResult>;

// The longest one run of usbip may take when its caller gives it no shorter limit.
export const USBIP_TIMEOUT_MS = 60_000;

// A runner in the tools container, whose process is asked for each call (it may have been started
// again); cancelled with the signal when one is given, or with the call's own.
export function usbipIn(toolsPid: () => Promise<number | undefined>, signal?: AbortSignal): UsbipRunner {
  return async (args, options = {}) => {
    const pid = await toolsPid();
    if (pid === undefined) return { ok: false, said: 'the tools container is not running', stdout: '' };
    const signals = [signal, options.signal].filter((one): one is AbortSignal => one !== undefined);
    const cancel = signals.length === 0 ? {} : { signal: AbortSignal.any(signals) };
    const result = await captureInMountNamespace(pid, [...WITHOUT_CAPABILITIES, USBIP, ...args], { timeoutMs: USBIP_TIMEOUT_MS, ...cancel });
    const said = result.timedOut ? `no answer in ${USBIP_TIMEOUT_MS / 1000} s` : result.stderr.trim().split('\n').filter((line) => line.trim() !== '').pop() ?? `exit ${result.exitCode}`;
    return { ok: result.exitCode === 0 && !result.timedOut, said: said.replace(/^usbip: (error|info): /, ''), stdout: result.stdout };
  };
}

// `usbip list -r HOST`'s devices:
//         1-1: QEMU : QEMU USB HARDDRIVE (46f4:0001)
export function parseRemoteList(text: string): RemoteDevice[] {
  const devices: RemoteDevice[] = [];
  for (const line of text.split('\n')) {
    const found = /^\s+([0-9]+-[0-9.]+):\s.*\(([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\)\s*$/.exec(line);
    if (found !== null) devices.push({ busid: found[1]!, vendor: found[2]!.toLowerCase(), product: found[3]!.toLowerCase() });
  }
  return devices;
}
