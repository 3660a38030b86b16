// The tools container: started when an instance is loaded, so its tools run without a container start.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { InstanceSettings } from '../config/settings.js';
import { hostWrites, toolsContainerName, toolsPidFile, toolsStateDir, type Context } from './context.js';
import { managerOf } from '../devices/manager.js';
import { isWould } from '../host/effect.js';
import { formatIdentity, identityOf, parseIdentity, recordTrusted } from '../host/tools-identity.js';
import { imageName } from '../images/names.js';
import { toolsAppArmor } from './tools-apparmor.js';

// Starts the tools container for a loaded instance and records its PID for the host commands.
export async function startTools(ctx: Context, settings: InstanceSettings, kver: string): Promise<void> {
  const name = toolsContainerName(settings.name);
  const file = toolsPidFile(ctx, settings.name);
  try {
    // Forgotten first: whatever happens to the start, no record names a process that is not it.
    const host = hostWrites(ctx);
    await host.remove(file);
    // The payload's tools state: host folders, root's alone, kept while the host is up.
    const state = (managerOf(ctx.deviceManagers, settings.deviceManager)?.toolsState ?? []).map((path) => ({ host: toolsStateDir(ctx, settings.name, path), container: path }));
    for (const mount of state) await host.mkdirp(mount.host, 0o700);
    const info = await ctx.runtime.startToolsHolder(imageName(settings, kver), name, settings.name, await toolsAppArmor(ctx, settings), state);
    if (isWould(info)) return;
    const identity = await identityOf(info.pid, kver);
    if (identity === undefined) throw new Error(`its process ${info.pid} is gone or not root's`);
    await host.mkdirp(dirname(file), 0o755);
    // Root's alone: the host commands that read it run as root (a non-root caller falls back).
    await host.writeFileAtomic(file, formatIdentity({ ...identity, runtime: ctx.runtime.name }), 0o600);
    ctx.logger.info(`tools container ${name} is up (pid ${info.pid}): host commands run in it without starting a container`);
  } catch (error) {
    // The service is stopping: nothing to fall back for.
    if (ctx.signal?.aborted === true) {
      ctx.logger.verbose(`the tools container was not started: stopping (${String(error instanceof Error ? error.message : error)})`);
      return;
    }
    ctx.logger.warn(`the tools container could not start (${String(error instanceof Error ? error.message : error)}); host commands fall back to a container per call`);
  }
}

// Stops the tools container and forgets its PID.
export async function stopTools(ctx: Context, instance: string): Promise<void> {
  await hostWrites(ctx).remove(toolsPidFile(ctx, instance));
  await ctx.runtime.removeContainer(toolsContainerName(instance));
}

// The tools container's PID when it is up for kver and still the process kvc started (same start
// time and mount namespace, root's, recorded in a root-only file); undefined otherwise.
export async function liveToolsPid(ctx: Context, instance: string, kver: string): Promise<number | undefined> {
  const file = toolsPidFile(ctx, instance);
  if (!(await recordTrusted(file))) return undefined;
  const recorded = parseIdentity(await readFile(file, 'utf8').catch(() => ''));
  if (recorded === undefined || recorded.pid <= 1 || recorded.kver !== kver) return undefined;
  const now = await identityOf(recorded.pid, kver);
  if (now === undefined || now.start !== recorded.start || now.mountNs !== recorded.mountNs) return undefined;
  return recorded.pid;
}
