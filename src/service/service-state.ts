// What the running service is doing with each kernel, published for `kvc status` as
// <runDir>/<name>/service.json (written whole, then renamed into place).
import { rmSync } from 'node:fs';
import { publishState, readPublishedState } from '../host/published-state.js';
import { join } from 'node:path';
import type { Context } from '../ops/context.js';
import type { KernelAction } from './reconcile-plan.js';
import type { ReconcileState } from './reconciler.js';

// One kernel as the service sees it.
export interface ServiceKernel {
  readonly kver: string;
  readonly action: KernelAction | 'building' | 'queued' | 'failed';
  readonly running: boolean;
  readonly nextBoot: boolean;
  readonly installed: boolean;
  readonly since?: string;
  readonly reason?: string;
  readonly attempt?: number;
  readonly retryAt?: string;
}

// The file's content.
export interface ServiceState {
  readonly pid: number;
  readonly updated: string;
  readonly nextBoot: string | null;
  readonly kernels: readonly ServiceKernel[];
}

export function serviceStatePath(ctx: Pick<Context, 'runDir'>, name: string): string {
  return join(ctx.runDir, name, 'service.json');
}

// The reconciler's state as the file holds it: each kernel with what is being done about it.
export function toServiceState(state: ReconcileState, pid: number, now: Date): ServiceState {
  const kernels = state.kernels.map((kernel): ServiceKernel => {
    const failure = state.failed.get(kernel.kver);
    if (state.building?.kver === kernel.kver) return { ...kernel, action: 'building', since: new Date(state.building.since).toISOString() };
    if (state.queued.includes(kernel.kver)) return { ...kernel, action: 'queued' };
    if (kernel.action === 'refused') return { ...kernel, reason: state.refused.get(kernel.kver) ?? '' };
    if (failure !== undefined && kernel.action !== 'ready') {
      return { ...kernel, action: 'failed', reason: failure.reason, attempt: failure.attempt, retryAt: new Date(failure.retryAt).toISOString() };
    }
    return { ...kernel };
  });
  return { pid, updated: now.toISOString(), nextBoot: state.nextBoot ?? null, kernels };
}

export function writeServiceState(ctx: Context, name: string, state: ReconcileState): void {
  publishState(serviceStatePath(ctx, name), toServiceState(state, process.pid, new Date()), ctx.logger);
}

export function removeServiceState(ctx: Context, name: string): void {
  rmSync(serviceStatePath(ctx, name), { force: true });
}

// The running service's state, or undefined when no service of this instance runs.
export function readServiceState(ctx: Pick<Context, 'runDir' | 'hostRoot'>, name: string): ServiceState | undefined {
  return readPublishedState<ServiceState>(serviceStatePath(ctx, name));
}
