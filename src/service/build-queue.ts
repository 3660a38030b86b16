// Builds images for new kernels in the background, one at a time, retrying failures with back-off.
import type { Logger } from '../log/logger.js';

// How the queue builds one kernel's image and how it retries.
export interface BuildQueueOptions {
  readonly build: (kver: string, signal: AbortSignal) => Promise<void>;
  readonly logger: Logger;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly onChange?: () => void;
}

// A queue state a person can read in `systemctl status`.
export interface QueueState {
  readonly building: string | undefined;
  readonly queued: readonly string[];
  readonly retrying: readonly string[];
  readonly failed: ReadonlyMap<string, string>;
}

// Serial builds; the same kernel is never queued twice; a failed build is retried after
// base, 2×base, 4×base… (at most max) and never stops the service.
export class BuildQueue {
  private readonly options: BuildQueueOptions;
  private readonly queued: string[] = [];
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; attempt: number }>();
  private readonly attempts = new Map<string, number>();
  private readonly failures = new Map<string, string>();
  private current: { kver: string; controller: AbortController } | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: BuildQueueOptions) {
    this.options = options;
  }

  // Queues a kernel unless it is queued, building or waiting to retry.
  enqueue(kver: string): void {
    if (this.closed || this.queued.includes(kver) || this.current?.kver === kver || this.retries.has(kver)) return;
    this.queued.push(kver);
    this.changed();
    void this.pump();
  }

  // Forgets a kernel (its directory went away): dequeued, retry dropped, a running build aborted.
  cancel(kver: string): void {
    const index = this.queued.indexOf(kver);
    if (index >= 0) this.queued.splice(index, 1);
    const retry = this.retries.get(kver);
    if (retry !== undefined) clearTimeout(retry.timer);
    this.retries.delete(kver);
    this.attempts.delete(kver);
    this.failures.delete(kver);
    if (this.current?.kver === kver) this.current.controller.abort();
    this.changed();
  }

  // What the queue is doing now.
  state(): QueueState {
    return { building: this.current?.kver, queued: [...this.queued], retrying: [...this.retries.keys()], failed: new Map(this.failures) };
  }

  // Resolves when nothing is building or queued (retries may still be pending).
  idle(): Promise<void> {
    if (this.current === undefined && this.queued.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // Aborts the running build and drops everything queued.
  close(): void {
    this.closed = true;
    this.queued.length = 0;
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
    this.retries.clear();
    this.current?.controller.abort();
  }

  private async pump(): Promise<void> {
    if (this.current !== undefined) return;
    const kver = this.queued.shift();
    if (kver === undefined) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    const controller = new AbortController();
    this.current = { kver, controller };
    this.changed();
    try {
      await this.options.build(kver, controller.signal);
      this.attempts.delete(kver);
      this.failures.delete(kver);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (controller.signal.aborted) {
        this.options.logger.info(`build for ${kver} stopped`);
      } else {
        const attempt = (this.attempts.get(kver) ?? 0) + 1;
        this.attempts.set(kver, attempt);
        this.failures.set(kver, reason);
        const delay = Math.min(this.options.retryBaseMs * 2 ** (attempt - 1), this.options.retryMaxMs);
        this.options.logger.error(`building the image for ${kver} failed (attempt ${attempt}): ${reason}; retrying in ${Math.round(delay / 1000)} s`);
        if (!this.closed) {
          const timer = setTimeout(() => {
            this.retries.delete(kver);
            this.enqueue(kver);
          }, delay);
          timer.unref();
          this.retries.set(kver, { timer, attempt });
        }
      }
    } finally {
      this.current = undefined;
      this.changed();
    }
    await this.pump();
  }

  private changed(): void {
    this.options.onChange?.();
  }
}
