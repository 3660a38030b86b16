// Checks the modules inside an image: present, built for the kernel, of the configured version.
import type { InstanceSettings } from '../config/settings.js';
import { checkModules, parseModinfo } from '../kmods/modinfo.js';
import type { Context } from './context.js';

// The problems found (empty when the image is good). modinfo runs inside the image, with no privileges.
export async function imageProblems(ctx: Context, settings: InstanceSettings, image: string, kver: string): Promise<string[]> {
  const result = await ctx.runtime.probe(image, ['modinfo', '-k', kver, ...settings.modules]);
  if (ctx.runtime.dryRun) return [];
  const infos = parseModinfo(result.stdout);
  const problems = checkModules(settings.modules, infos, kver, settings.softwareVersion);
  if (result.exitCode !== 0 && problems.length === 0) {
    problems.push(`modinfo failed in the image: ${result.stderr.trim().split('\n').pop() ?? ''}`);
  }
  return problems;
}
