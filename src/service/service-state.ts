// The reconciler's state as the service publishes it for `kvc status` (the file: src/ops/service-state.ts).
import type { Context } from '../ops/context.js';
import { publishServiceState, type ServiceKernel, type ServiceState } from '../ops/service-state.js';
import type { ReconcileState } from './reconciler.js';

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

// Publishes the reconciler's state now.
export function writeServiceState(ctx: Context, name: string, state: ReconcileState): void {
  publishServiceState(ctx, name, toServiceState(state, process.pid, new Date()));
}

