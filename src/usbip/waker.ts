// Wakes the USB/IP loops early: a USB device came or went (usb-events.ts), so they look now
// instead of at their next periodic look. Each wake counts; a loop that was busy when it came
// looks again at once.

// How long after a wake the loops look again soon,
export const SETTLE_MS = 3000;
// and how soon.
export const FOLLOW_UP_MS = 500;

// One source of wakes, shared by the exporting and importing loops.
export class Waker {
  private count = 0;
  private last = -Infinity;
  private readonly waiting = new Set<() => void>();

  // How many wakes there have been: a loop notes it before it looks.
  get generation(): number {
    return this.count;
  }

  // Wakes every waiting loop, and any that looks now when it next waits.
  wake(): void {
    this.count += 1;
    this.last = Date.now();
    for (const resolve of [...this.waiting]) resolve();
  }

  // A loop's wait: for SETTLE_MS after a wake, at most FOLLOW_UP_MS (what the event told of may
  // show in sysfs a moment after the node: a vhci port freed, a driver bound), else ms.
  waitMs(ms: number): number {
    return Date.now() - this.last < SETTLE_MS ? Math.min(ms, FOLLOW_UP_MS) : ms;
  }

  // Waits ms, or less: a wake since `seen`, or the signal's abort (never rejects).
  wait(seen: number, ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.count !== seen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiting.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
