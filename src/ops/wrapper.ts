// `kvc wrapper`: runs a userspace tool from the instance's image, stdio and exit status unchanged.
import { ImageMissingError, ImageNotFoundError, UsageError } from '../errors.js';
import type { InstanceSettings } from '../config/settings.js';
import { checkKernelRelease } from '../kernel/release.js';
import { toolsContainerName, type Context } from './context.js';
import { liveToolsPid } from './tools.js';
import { imageName } from '../images/names.js';
import { toolsAppArmor } from './tools-apparmor.js';

// Runs the command in the tools container when it is up (`exec`: no container start), else in a
// new container of the image. Returns the command's exit status.
export async function runWrapped(ctx: Context, settings: InstanceSettings, kver: string, command: readonly string[]): Promise<number> {
  checkKernelRelease(kver);
  if (command.length === 0) throw new UsageError('no command given to run', { hint: `e.g. kvc wrapper ${settings.name} ${kver} usbip version` });
  const pid = await liveToolsPid(ctx, settings.name, kver);
  if (pid !== undefined) {
    ctx.logger.verbose(`running ${command[0]} in the tools container (pid ${pid})`);
    return ctx.runtime.execTool(toolsContainerName(settings.name), command, process.stdin.isTTY === true && process.stdout.isTTY === true);
  }
  const image = imageName(settings, kver);
  // The run itself says whether the image is there: one runtime start per call, not two.
  const apparmor = await toolsAppArmor(ctx, settings);
  return ctx.runtime.runTool(image, command, process.stdin.isTTY === true && process.stdout.isTTY === true, apparmor).catch((error: unknown) => {
    if (error instanceof ImageNotFoundError) throw new ImageMissingError(`there is no image ${image} for kernel ${kver}`, { hint: `build it first: kvc build ${settings.name} ${kver}` });
    throw error;
  });
}
