// `kvc push`: an instance's image for one kernel, to a registry the manifests can point at.
import { ImageMissingError } from '../errors.js';
import type { InstanceSettings } from '../config/settings.js';
import { type Context } from './context.js';
import { isWould } from '../host/effect.js';
import { imageInRepo, imageName } from '../images/names.js';

// Pushes <name>-<version>:<tag> to <repo>/<name>-<version>:<tag>; returns where it went, and
// whether it did (a dry run's push does not).
export async function pushImage(ctx: Context, settings: InstanceSettings, kver: string, repo: string, options: { tlsVerify: boolean }): Promise<{ destination: string; pushed: boolean }> {
  const source = imageName(settings, kver);
  const destination = imageInRepo(source, repo);
  if ((await ctx.runtime.inspectImage(source)) === undefined) {
    throw new ImageMissingError(`there is no image ${source} to push`, { hint: `build it first: kvc build ${settings.name} ${kver}` });
  }
  const pushed = !isWould(await ctx.runtime.push(source, destination, options));
  if (pushed) ctx.logger.info(`pushed ${source} as ${destination}`);
  return { destination, pushed };
}
