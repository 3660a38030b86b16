// USB devices coming and going, as the kernel itself reports them: it makes and removes each USB
// device's node under /dev/bus/usb/BBB/DDD in devtmpfs (no udev involved), and inotify tells us.
// Chosen over a netlink uevent socket (Node cannot open one without a native module) and over
// `udevadm monitor` (a second long-lived process, and udev may be absent in the VMs kvc serves);
// a slow periodic look stays behind it for what inotify could miss (an overflowed queue).
import { watch, readdirSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

// Calls onEvent (at most once per `settleMs`, after the burst of nodes a device makes) until the
// signal aborts. Throws when `dir` cannot be watched (no devtmpfs there): the caller polls instead.
export type UsbEventSource = (onEvent: () => void, signal: AbortSignal) => void;

// The source for a host whose /dev/bus/usb is `dir`.
export function devtmpfsUsbEvents(dir: string, settleMs = 30): UsbEventSource {
  return (onEvent, signal) => {
    const watchers = new Map<string, FSWatcher>();
    let timer: NodeJS.Timeout | undefined;
    const fire = (): void => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (!signal.aborted) onEvent();
      }, settleMs);
    };
    const follow = (path: string): void => {
      if (watchers.has(path) || signal.aborted) return;
      try {
        const watcher = watch(path, { persistent: false }, () => {
          if (path === dir) followBuses();
          fire();
        });
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(path);
        });
        watchers.set(path, watcher);
      } catch (error) {
        if (path === dir) throw error;
      }
    };
    // A new bus (a USB controller added) gets a folder of its own.
    const followBuses = (): void => {
      let buses: string[] = [];
      try {
        buses = readdirSync(dir).filter((name) => /^[0-9]{3}$/.test(name));
      } catch {
        // the folder went: its watcher reports that
      }
      for (const bus of buses) follow(join(dir, bus));
    };
    follow(dir);
    followBuses();
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    }, { once: true });
  };
}
