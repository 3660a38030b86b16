// The host's modprobe configuration for the load container: each of modprobe's folders the host
// has, read-only at its own place (one mount per real folder: /lib is /usr/lib on merged-/usr
// hosts), so that options, install and softdep lines of the host apply to what kvc loads.
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { MODPROBE_CONFIG_DIRS, readOnlyVolume } from '../runtime/args.js';
import type { Context } from './context.js';

// The volumes (`host:at:ro`) of the host's modprobe configuration folders.
export function modprobeConfigVolumes(ctx: Context): string[] {
  const seen = new Set<string>();
  const volumes: string[] = [];
  for (const dir of MODPROBE_CONFIG_DIRS) {
    const host = join(ctx.hostRoot, dir);
    if (!existsSync(host)) continue;
    const real = realpathSync(host);
    if (seen.has(real)) continue;
    seen.add(real);
    volumes.push(readOnlyVolume(real, dir));
  }
  return volumes;
}
