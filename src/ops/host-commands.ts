// The host commands of an instance's tools (KVC_HOST_TOOLS): one small script per tool in a bin
// folder, each running <libdir>/kvc-tool, which enters the tools container or falls back to
// `kvc wrapper`. What the scripts say is the template host/bin/host-command.in (make install
// writes usbip's from it; a unit test keeps the two the same).
import { closeSync, constants, existsSync, fchmodSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KvcError, UsageError } from '../errors.js';
import type { InstanceSettings } from '../config/settings.js';
import type { Logger } from '../log/logger.js';
import { assertTrusted } from '../config/trust.js';

// The second line of every script kvc writes: how it recognises its own.
const MARK = '# Written by `kvc host-commands ';

// The script for one tool.
export function hostCommandScript(libDir: string, instance: string, toolPath: string): string {
  for (const value of [libDir, instance, toolPath]) {
    if (value.includes("'") || value.includes('\n')) throw new UsageError(`${JSON.stringify(value)} cannot go into a host command (quote or newline)`);
  }
  const tool = basename(toolPath);
  return [
    '#!/bin/sh',
    `# Host command ${tool} of kvc instance ${instance}: runs ${toolPath} from its image (see ${libDir}/kvc-tool).`,
    `${MARK}${instance}\` (or make install); rewritten or removed by it.`,
    `exec '${libDir}/kvc-tool' "$0" '${instance}' '${toolPath}' "$@"`,
    '',
  ].join('\n');
}

// Whether the file at path is a host command kvc wrote (any instance), or nothing is there.
function ours(path: string): boolean {
  if (!existsSync(path) && !isLink(path)) return true;
  if (isLink(path) || !lstatSync(path).isFile()) return false;
  return readFileSync(path, 'utf8').split('\n')[2]?.startsWith(MARK) === true;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

// Writes (or with remove, deletes) the instance's host commands in binDir; never replaces a file
// kvc did not write. Returns the paths. `dryRun` stays a flag here, given by its command in
// src/cli: these files are in --bindir, not under /etc, /run or /var (the host-writes port's).
export function writeHostCommands(settings: InstanceSettings, binDir: string, libDir: string, logger: Logger, options: { remove?: boolean; dryRun?: boolean } = {}): string[] {
  if (settings.hostTools.length === 0) {
    throw new UsageError(`${settings.name} declares no host tools`, { hint: `list them in ${settings.confPath}, e.g. KVC_HOST_TOOLS="/usr/sbin/usbip"` });
  }
  if (options.remove !== true && !existsSync(join(libDir, 'kvc-tool'))) {
    throw new KvcError(`${join(libDir, 'kvc-tool')} does not exist`, { hint: 'give --libdir the folder kvc was installed to (make install puts kvc-tool there)' });
  }
  // Root runs what is written there: a folder others may write is refused, as a config folder is.
  if (options.dryRun !== true && existsSync(binDir)) assertTrusted(binDir, binDir, '--bindir');
  const paths: string[] = [];
  for (const tool of settings.hostTools) {
    const path = join(binDir, basename(tool));
    if (!ours(path)) {
      throw new KvcError(`${path} exists and kvc did not write it; not replacing it`, { hint: `remove it or pick another --bindir` });
    }
    if (options.dryRun === true) {
      logger.info(options.remove === true ? `would remove ${path}` : `would write ${path}: runs ${tool} from ${settings.name}'s image`);
    } else if (options.remove === true) {
      rmSync(path, { force: true });
      logger.info(`removed ${path}`);
    } else {
      writeNewFile(`${path}.kvc-new`, hostCommandScript(libDir, settings.name, tool), 0o755);
      renameSync(`${path}.kvc-new`, path);
      logger.info(`${path}: runs ${tool} from ${settings.name}'s image`);
    }
    paths.push(path);
  }
  return paths;
}

// Creates `path` anew (a file or link already there is removed first, never followed or written
// through), writes it and sets its mode on the open file.
function writeNewFile(path: string, text: string, mode: number): void {
  rmSync(path, { force: true });
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
