// What the service may build with no person present: a local folder, or a remote context pinned to
// a commit; anything else only when the instance opts in (KVC_SERVICE_UNPINNED=yes), because then
// whoever sits on the network path or controls the branch decides what enters the kernel.
import { describeContext, type InstanceSettings } from '../config/settings.js';
import { KvcError, ExitStatus } from '../errors.js';

// The service refused to build from an unpinned source (not retried: a person must act).
export class UnattendedBuildRefusedError extends KvcError {
  override readonly exitStatus = ExitStatus.config;
}

// Why the service may not build this instance unattended; undefined when it may. Pure.
export function unattendedBuildProblem(settings: InstanceSettings): string | undefined {
  const context = describeContext(settings.context);
  if (context.pinned === 'local' || context.pinned === 'commit' || settings.serviceUnpinned) return undefined;
  const at = context.pinned === 'ref' ? 'a branch or tag' : 'its default branch';
  return `its build context ${context.source} is a remote source at ${at}, not pinned to a commit: the service does not build it unattended`;
}

// Throws UnattendedBuildRefusedError (with the three ways out) when the service may not build it.
export function assertUnattendedBuildAllowed(settings: InstanceSettings): void {
  const problem = unattendedBuildProblem(settings);
  if (problem === undefined) return;
  throw new UnattendedBuildRefusedError(`${settings.name}: ${problem}`, {
    hint: `pin it (KMOD_CONTAINER_BUILD_CONTEXT=…#<40-hex commit>), build it yourself (kvc build ${settings.name}), or allow it with KVC_SERVICE_UNPINNED=yes in ${settings.confPath}`,
  });
}
