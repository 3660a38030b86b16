// Small pieces the exporting and importing loops share.
import type { UsbDevice } from './usb-sysfs.js';
import { ExitStatus, KvcError } from '../errors.js';

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

// A call outside the loop (a tool, a server, a read of sysfs) that gave no answer in its time.
export class CallTimeoutError extends KvcError {
  override readonly exitStatus = ExitStatus.tempFail;

  constructor(readonly what: string, readonly ms: number) {
    super(`${what} gave no answer in ${ms / 1000} s`);
  }
}

// A call cut short because its loop is stopping.
export class CallStoppedError extends KvcError {
  override readonly exitStatus = ExitStatus.interrupted;

  constructor(readonly what: string) {
    super(`${what} was stopped`);
  }
}

// Runs call with a signal that aborts after ms or when `signal` aborts; then rejects with
// CallTimeoutError or CallStoppedError at once, even when the call does not heed its signal.
export function timeLimited<T>(what: string, ms: number, signal: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(new CallStoppedError(what));
  const own = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const settle = (finish: () => void): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      finish();
    };
    const cut = (error: KvcError): void => settle(() => {
      own.abort(error);
      reject(error);
    });
    const stop = (): void => cut(new CallStoppedError(what));
    const timer = setTimeout(() => cut(new CallTimeoutError(what, ms)), ms);
    signal.addEventListener('abort', stop, { once: true });
    Promise.resolve().then(() => call(own.signal)).then((value) => settle(() => resolve(value)), (error: unknown) => settle(() => reject(error)));
  });
}

// "1-1 (46f4:0001 serial KVC-DISK-A, QEMU USB HARDDRIVE)".
export function describeDevice(device: Pick<UsbDevice, 'busid' | 'vendor' | 'product' | 'serial'> & { name?: string | undefined }): string {
  const details = [`${device.vendor}:${device.product}`, device.serial === undefined ? '' : `serial ${device.serial}`].filter((part) => part !== '').join(' ');
  return `${device.busid} (${details}${device.name === undefined ? '' : `, ${device.name}`})`;
}
