// The tools container: started when an instance is loaded, so its tools run without a container start.
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InstanceSettings } from '../config/settings.js';
import { imageName, toolsContainerName, toolsPidFile, type Context } from './context.js';

// Starts the tools container for a loaded instance and records its PID for the host commands.
export async function startTools(ctx: Context, settings: InstanceSettings, kver: string): Promise<void> {
  const name = toolsContainerName(settings.name);
  try {
    const info = await ctx.runtime.startToolsHolder(imageName(settings, kver), name, settings.name);
    if (ctx.runtime.dryRun) return;
    const file = toolsPidFile(ctx, settings.name);
    await mkdir(dirname(file), { recursive: true, mode: 0o755 });
    await writeFile(`${file}.new`, `${info.pid} ${kver}\n`, { mode: 0o644 });
    await rename(`${file}.new`, file);
    ctx.logger.info(`tools container ${name} is up (pid ${info.pid}): host commands run in it without starting a container`);
  } catch (error) {
    ctx.logger.warn(`the tools container could not start (${String(error instanceof Error ? error.message : error)}); host commands fall back to a container per call`);
  }
}

// Stops the tools container and forgets its PID.
export async function stopTools(ctx: Context, instance: string): Promise<void> {
  await rm(toolsPidFile(ctx, instance), { force: true });
  await ctx.runtime.removeContainer(toolsContainerName(instance));
}

// The tools container's PID when it is up for kver, undefined otherwise.
export async function liveToolsPid(ctx: Context, instance: string, kver: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(toolsPidFile(ctx, instance), 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, recordedKver] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1 || recordedKver !== kver) return undefined;
  const alive = await access(join('/proc', String(pid), 'root')).then(() => true, () => false);
  return alive ? pid : undefined;
}
