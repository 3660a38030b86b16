// The real usbip tool, run from the instance's image in the tools container (`exec`: the host's
// network and /sys, no capabilities, the container's cgroup), as the host command runs it; and
// what its output says.
import type { RemoteDevice } from './import-plan.js';

// The usbip tool's path in the image.
export const USBIP = '/usr/sbin/usbip';
// usbipd's path in the image.
export const USBIPD = '/usr/sbin/usbipd';

// What a run of usbip returned.
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

// Runs usbip with these arguments (in the tools container).
export type UsbipRunner = (args: readonly string[], options?: RunOptions) => Promise<ToolResult>;

// The longest one run of usbip may take when its caller gives it no shorter limit.
export const USBIP_TIMEOUT_MS = 60_000;

// Runs a command in the tools container and captures it (ContainerRuntime.captureExec); throws
// when it does not answer within timeoutMs.
export type ToolsExec = (command: readonly string[], options: { signal?: AbortSignal; timeoutMs: number }) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

// A usbip runner in the tools container, cancelled with the signal when one is given, or with the
// call's own.
export function usbipIn(exec: ToolsExec, signal?: AbortSignal): UsbipRunner {
  return async (args, options = {}) => {
    const signals = [signal, options.signal].filter((one): one is AbortSignal => one !== undefined);
    const cancel = signals.length === 0 ? {} : { signal: AbortSignal.any(signals) };
    try {
      const result = await exec([USBIP, ...args], { timeoutMs: USBIP_TIMEOUT_MS, ...cancel });
      const said = result.stderr.trim().split('\n').filter((line) => line.trim() !== '').pop() ?? `exit ${result.exitCode}`;
      return { ok: result.exitCode === 0, said: said.replace(/^usbip: (error|info): /, '').replace(/^Error: /, ''), stdout: result.stdout };
    } catch (error) {
      return { ok: false, said: error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error), stdout: '' };
    }
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
