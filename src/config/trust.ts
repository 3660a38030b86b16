// Refuses files kvc runs as root from (configuration, build contexts) when someone other than root
// could have written them or swapped them, as sshd's StrictModes does: the file, every folder
// above it up to /, every file and folder of a build context, and what symbolic links point to.
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { ConfigError } from '../errors.js';
import { environment } from '../environment.js';

// Test-only: set to 1 to skip the ownership and permission checks. The bundle `make install`
// ships is built with __KVC_TEST_HOOKS__ false (scripts/bundle.mjs), so there it does nothing.
export const INSECURE_OVERRIDE = 'KVC_TEST_INSECURE_FILES';
declare const __KVC_TEST_HOOKS__: boolean | undefined;
const TEST_HOOKS = typeof __KVC_TEST_HOOKS__ === 'undefined' ? true : __KVC_TEST_HOOKS__;

// Whether the checks are skipped (tests only; never in the shipped bundle).
export function trustChecksSkipped(env: NodeJS.ProcessEnv = environment()): boolean {
  return TEST_HOOKS && env[INSECURE_OVERRIDE] === '1';
}

// Why `path` is not trustworthy, or undefined: owned by root (or the user running kvc) and not
// writable by group or others. A sticky folder (/tmp) is fine: others cannot rename what is in it.
export function untrustedReason(path: string): string | undefined {
  const info = statSync(path);
  const euid = process.geteuid?.() ?? 0;
  if (info.uid !== 0 && info.uid !== euid) return `is owned by uid ${info.uid}, not root`;
  if ((info.mode & 0o022) !== 0) {
    const sticky = info.isDirectory() && (info.mode & 0o1000) !== 0;
    if (!sticky) return `is writable by ${(info.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(info.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

function refuse(configFile: string, key: string | undefined, candidate: string, reason: string): never {
  throw new ConfigError(configFile, key, `${candidate} ${reason}; kvc runs as root and will not use it`, {
    hint: `chown root ${candidate} && chmod go-w ${candidate}`,
  });
}

// Throws a ConfigError naming the file and the fix when `path`, what it resolves to, or any folder
// above either up to / is untrusted.
export function assertTrusted(path: string, configFile: string, key: string | undefined, env: NodeJS.ProcessEnv = environment()): void {
  if (trustChecksSkipped(env)) return;
  for (const start of new Set([path, realpathSync(path)])) {
    for (let candidate = start; ; candidate = dirname(candidate)) {
      const reason = untrustedReason(candidate);
      if (reason !== undefined) refuse(configFile, key, candidate, reason);
      if (dirname(candidate) === candidate) break;
    }
  }
}

// Throws a ConfigError when any file or folder inside a build context is untrusted, or a symbolic
// link in it leads out of it (the runtime copies what it points to into the build).
export function assertContextTrusted(dir: string, configFile: string, env: NodeJS.ProcessEnv = environment()): void {
  if (trustChecksSkipped(env)) return;
  assertTrusted(dir, configFile, 'KMOD_CONTAINER_BUILD_CONTEXT', env);
  const root = realpathSync(dir);
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder)) {
      const entry = join(folder, name);
      const info = lstatSync(entry);
      if (info.isSymbolicLink()) {
        let target: string;
        try { target = realpathSync(entry); } catch { refuse(configFile, 'KMOD_CONTAINER_BUILD_CONTEXT', entry, 'is a symbolic link to nothing'); }
        if (target !== root && !target.startsWith(root + sep)) refuse(configFile, 'KMOD_CONTAINER_BUILD_CONTEXT', entry, `is a symbolic link out of the build context (to ${target})`);
        continue;
      }
      const euid = process.geteuid?.() ?? 0;
      if (info.uid !== 0 && info.uid !== euid) refuse(configFile, 'KMOD_CONTAINER_BUILD_CONTEXT', entry, `is owned by uid ${info.uid}, not root`);
      if ((info.mode & 0o022) !== 0) refuse(configFile, 'KMOD_CONTAINER_BUILD_CONTEXT', entry, `is writable by ${(info.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(info.mode & 0o7777).toString(8)}, in the build context ${relative(root, entry) === '' ? '' : 'as ' + relative(root, entry)})`);
      if (info.isDirectory()) walk(entry);
    }
  };
  walk(dir);
}

// Whether `path` is a symbolic link.
export function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
