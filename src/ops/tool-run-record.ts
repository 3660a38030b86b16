// The host command's record of how to run a tool from a kernel's image without kvc: written when
// kvc has built (or found up to date) the image of that kernel, removed when it prunes it. The
// host command (host/lib/kvc-tool) reads it when the tools container is not up and runs
// `<runtime> <args…> [--tty] <image> <tool> …` itself: no Node start on that path either.
// Format, one field a line: the runtime's name, the image, then the runtime's arguments up to the
// image (none holds a newline: kvc makes them all). Root's, in a folder only root writes.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkKernelRelease } from '../kernel/release.js';
import type { InstanceSettings } from '../config/settings.js';
import { hostWrites, type Context } from './context.js';
import { imageName } from '../images/names.js';
import { appArmorHost } from '../host/apparmor.js';

// The folder of an instance's records: <stateDir>/<instance>/tool-run, one file a kernel release.
export function toolRunDir(ctx: Pick<Context, 'stateDir'>, instance: string): string {
  return join(ctx.stateDir ?? '/var/lib/kvc', instance, 'tool-run');
}

// The record's text for an image. Pure.
export function formatToolRunRecord(runtime: string, image: string, prefix: readonly string[]): string {
  const fields = [runtime, image, ...prefix];
  if (fields.some((field) => field.includes('\n') || field === '')) throw new Error('a tool-run record field is empty or holds a newline');
  return `${fields.join('\n')}\n`;
}

// Writes (atomically) the record for the instance's image of kver. Best effort: a failure only
// leaves the host command on its slower path, so it is logged, never thrown.
export async function recordToolRun(ctx: Context, settings: InstanceSettings, kver: string): Promise<void> {
  const image = imageName(settings, kver);
  try {
    if (settings.hostTools.length === 0) return;
    checkKernelRelease(kver);
    // Under AppArmor the run needs kvc's profile, which is loaded by kvc (and gone after a
    // reboot): the host command then goes through kvc wrapper, which loads it.
    if (appArmorHost(ctx.hostRoot).enabled) {
      await forgetToolRun(ctx, settings.name, image);
      return;
    }
    const dir = toolRunDir(ctx, settings.name);
    const host = hostWrites(ctx);
    await host.mkdirp(dir, 0o755);
    await host.writeFileAtomic(join(dir, kver), formatToolRunRecord(ctx.runtime.name, image, ctx.runtime.toolRunPrefix(image)), 0o644);
  } catch (error) {
    ctx.logger.verbose(`could not record how host commands run ${image} (${(error as Error).message}); they go through kvc wrapper`);
  }
}

// Removes the records that name an image (it was pruned or removed). A hidden name is a record
// being written (replaceFile's temporary), not a record: left alone.
export async function forgetToolRun(ctx: Context, instance: string, image: string): Promise<void> {
  const dir = toolRunDir(ctx, instance);
  for (const kver of await readdir(dir).catch(() => [] as string[])) {
    if (kver.startsWith('.')) continue;
    const text = await readFile(join(dir, kver), 'utf8').catch(() => '');
    if (text.split('\n')[1] === image) await hostWrites(ctx).remove(join(dir, kver));
  }
}
