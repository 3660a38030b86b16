// Small pieces the exporting and importing loops share.
import type { UsbDevice } from './usb-sysfs.js';

// Waits ms, or less when the signal aborts (never rejects).
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

// Runs fn every ms until the signal aborts (the first run after ms); a failed run is reported, not fatal.
export async function everyUntilAborted(ms: number, signal: AbortSignal, fn: () => Promise<void>, onError: (error: Error) => void): Promise<void> {
  while (!signal.aborted) {
    await sleep(ms, signal);
    if (signal.aborted) break;
    await fn().catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error))));
  }
}

// "1-1 (46f4:0001 serial KVC-DISK-A, QEMU USB HARDDRIVE)".
export function describeDevice(device: Pick<UsbDevice, 'busid' | 'vendor' | 'product' | 'serial'> & { name?: string | undefined }): string {
  const details = [`${device.vendor}:${device.product}`, device.serial === undefined ? '' : `serial ${device.serial}`].filter((part) => part !== '').join(' ');
  return `${device.busid} (${details}${device.name === undefined ? '' : `, ${device.name}`})`;
}
