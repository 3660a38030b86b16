// AppArmor on the host: whether the kernel enforces it, and loading a profile with the host's
// apparmor_parser (the profile's text on stdin, no shell, no file left behind).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ExitStatus, KvcError } from '../errors.js';
import { findOnPath } from './find-on-path.js';

// apparmor_parser is given this long (it compiles the profile; seconds on a slow VM).
const PARSER_TIMEOUT_MS = 60_000;

// The host's AppArmor: on (the kernel enforces profiles) or not, and its parser when installed.
export interface AppArmorHost {
  readonly enabled: boolean;
  readonly parser: string | undefined;
}

// The host's parser refused kvc's profile, or could not load it in time: the tools are not
// started under the runtime's profile instead (which would deny their writes).
export class AppArmorError extends KvcError {
  override readonly exitStatus = ExitStatus.unavailable;
}

// What the host has, read from <hostRoot>/sys (the module parameter says Y when AppArmor is on).
export function appArmorHost(hostRoot: string, pathVariable?: string): AppArmorHost {
  let enabled = false;
  try {
    enabled = readFileSync(join(hostRoot, 'sys/module/apparmor/parameters/enabled'), 'utf8').trim().startsWith('Y');
  } catch {
    // no AppArmor in this kernel
  }
  const parser = findOnPath('apparmor_parser', pathVariable) ?? findOnPath('apparmor_parser', '/usr/sbin:/sbin');
  return { enabled, parser };
}

// Loads (or replaces) the profile in the kernel; throws AppArmorError with the parser's words.
export async function loadProfile(parser: string, text: string, signal?: AbortSignal): Promise<void> {
  const result = await execa(parser, ['--replace', '--skip-cache'], { input: text, reject: false, timeout: PARSER_TIMEOUT_MS, ...(signal === undefined ? {} : { cancelSignal: signal }) });
  // Stopped (the service is stopping): not the parser's refusal.
  if (signal?.aborted === true) throw signal.reason instanceof Error ? signal.reason : new Error('stopped');
  if (result.exitCode !== 0) {
    const said = result.timedOut ? `no answer in ${PARSER_TIMEOUT_MS / 1000} s` : String(result.stderr).trim().split('\n').slice(0, 6).join(' / ') || `exit status ${result.exitCode}`;
    throw new AppArmorError(`apparmor_parser refused kvc's profile: ${said}`, { hint: 'check the instance\'s KVC_TOOLS_SYSFS_WRITES; `apparmor_parser --version` should be 2.13 or later' });
  }
}
