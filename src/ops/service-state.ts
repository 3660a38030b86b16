// What the running service is doing with each kernel, published for `kvc status` as
// <runDir>/<name>/service.json (written whole, then renamed into place): the file's format, its
// path, and its reader. The service (src/service/service-state.ts) makes it from its reconciler.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isDamaged, publishState, readPublishedState } from '../host/published-state.js';
import { Fields } from '../host/json-shape.js';
import type { Logger } from '../log/logger.js';
import type { KernelAction } from '../images/plan.js';
import type { Context } from './context.js';

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

// Where the service of instance `name` publishes its state.
export function serviceStatePath(ctx: Pick<Context, 'runDir'>, name: string): string {
  return join(ctx.runDir, name, 'service.json');
}

// Publishes the state (a failure is logged: status is a courtesy).
export function publishServiceState(ctx: Pick<Context, 'runDir'> & { readonly logger: Logger }, name: string, state: ServiceState): void {
  publishState(serviceStatePath(ctx, name), state, ctx.logger);
}

// Removes the published state (the service is stopping).
export function removeServiceState(ctx: Context, name: string): void {
  rmSync(serviceStatePath(ctx, name), { force: true });
}

// The running service's state, or undefined when no service of this instance runs. A damaged file
// (not JSON, or not of this shape) is not believed: undefined, and a warning naming the field.
export function readServiceState(ctx: Pick<Context, 'runDir' | 'hostRoot'> & { readonly logger?: Pick<Logger, 'warn'> }, name: string): ServiceState | undefined {
  const read = readPublishedState(serviceStatePath(ctx, name), checkServiceState);
  if (!isDamaged(read)) return read;
  ctx.logger?.warn(`ignoring ${read.damaged}, which is damaged (${read.why}); is a service of ${name} running? (systemctl status kvc@${name})`);
  return undefined;
}

const ACTIONS: readonly ServiceKernel['action'][] = ['ready', 'build', 'wait', 'refused', 'skip', 'prune', 'building', 'queued', 'failed'];

// The file's JSON read into a ServiceState, field by field (ShapeError on the first that is wrong).
export function checkServiceState(value: unknown): ServiceState {
  const fields = new Fields(value);
  return {
    pid: fields.integer('pid'),
    updated: fields.string('updated'),
    nextBoot: fields.stringOrNull('nextBoot'),
    kernels: fields.array('kernels', (item, path) => {
      const kernel = new Fields(item, path);
      const since = kernel.optionalString('since');
      const reason = kernel.optionalString('reason');
      const attempt = kernel.optionalInteger('attempt');
      const retryAt = kernel.optionalString('retryAt');
      return {
        kver: kernel.string('kver'),
        action: kernel.oneOf('action', ACTIONS),
        running: kernel.boolean('running'),
        nextBoot: kernel.boolean('nextBoot'),
        installed: kernel.boolean('installed'),
        ...(since === undefined ? {} : { since }),
        ...(reason === undefined ? {} : { reason }),
        ...(attempt === undefined ? {} : { attempt }),
        ...(retryAt === undefined ? {} : { retryAt }),
      };
    }),
  };
}
