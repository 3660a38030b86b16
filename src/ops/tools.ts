// The tools container: started when an instance is loaded, so its tools run without a container start.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { InstanceSettings } from '../config/settings.js';
import { hostWrites, toolsContainerName, toolsPidFile, toolsStateDir, type Context } from './context.js';
import { managerOf } from '../devices/manager.js';
import { mountSmallTmpfs, unmountSmallTmpfs } from '../host/small-tmpfs.js';
import type { StateMount } from '../runtime/args.js';
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
    const state = await toolsState(ctx, settings);
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

// The payload's tools state (DeviceManager.toolsState): each a host folder with a small tmpfs of
// its own (what the tools write cannot fill the host's /run), kept until the instance is unloaded.
// A folder that cannot have one is bound as it is, said: the service must see what the tools
// record there.
async function toolsState(ctx: Context, settings: InstanceSettings): Promise<StateMount[]> {
  const host = hostWrites(ctx);
  const state: StateMount[] = [];
  for (const path of managerOf(ctx.deviceManagers, settings.deviceManager)?.toolsState ?? []) {
    const dir = toolsStateDir(ctx, settings.name, path);
    await host.mkdirp(dir, 0o700);
    await host.apply(`mount a tmpfs of ${TOOLS_STATE_LIMITS.bytes / 1024} KiB on ${dir}`, () => mountSmallTmpfs(dir, TOOLS_STATE_LIMITS)).catch((error: unknown) => {
      ctx.logger.warn(`${(error as Error).message}: the tools keep ${path} in ${dir} without a size limit of its own`);
    });
    state.push({ host: dir, container: path });
  }
  return state;
}

// A tools state folder's limits: usbip's records, a line per vhci port (a page each on tmpfs; vhci
// has 1024 ports at the most).
const TOOLS_STATE_LIMITS = { bytes: 8 * 1024 * 1024, inodes: 2048 };

// Stops the tools container and forgets its PID; the tools state goes with the instance (records
// of ports left attached while vhci_hcd stays loaded, loaded before kvc, go with it).
export async function stopTools(ctx: Context, settings: Pick<InstanceSettings, 'name' | 'deviceManager'>): Promise<void> {
  const instance = settings.name;
  await hostWrites(ctx).remove(toolsPidFile(ctx, instance));
  await ctx.runtime.removeContainer(toolsContainerName(instance));
  for (const path of managerOf(ctx.deviceManagers, settings.deviceManager)?.toolsState ?? []) {
    const dir = toolsStateDir(ctx, instance, path);
    await hostWrites(ctx).apply(`unmount kvc's tmpfs from ${dir}, if it is there`, () => unmountSmallTmpfs(dir)).catch((error: unknown) => ctx.logger.warn(`${(error as Error).message}; umount ${dir} does it`));
  }
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
