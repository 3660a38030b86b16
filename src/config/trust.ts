// Refuses files kvc runs as root from (configuration, build contexts) when someone other than root
// could have written them, as sshd's StrictModes does.
import { lstatSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../errors.js';

// Test-only: set to 1 to skip the ownership and permission checks. Never on a host.
export const INSECURE_OVERRIDE = 'KVC_TEST_INSECURE_FILES';

// Why `path` is not trustworthy, or undefined: owned by root (or the user running kvc) and not
// writable by group or others.
export function untrustedReason(path: string): string | undefined {
  const info = statSync(path);
  const euid = process.geteuid?.() ?? 0;
  if (info.uid !== 0 && info.uid !== euid) return `is owned by uid ${info.uid}, not root`;
  if ((info.mode & 0o022) !== 0) {
    const sticky = info.isDirectory() && (info.mode & 0o1000) !== 0;
    if (!sticky || (info.mode & 0o020) !== 0) return `is writable by ${(info.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(info.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

// Throws a ConfigError naming the file and the fix when `path` or its folder is untrusted.
export function assertTrusted(path: string, configFile: string, key: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (env[INSECURE_OVERRIDE] === '1') return;
  for (const candidate of [path, dirname(path)]) {
    const reason = untrustedReason(candidate);
    if (reason !== undefined) {
      throw new ConfigError(configFile, key, `${candidate} ${reason}; kvc runs as root and will not use it`, {
        hint: `chown root ${candidate} && chmod go-w ${candidate}`,
      });
    }
  }
}

// Whether `path` is a symbolic link.
export function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
