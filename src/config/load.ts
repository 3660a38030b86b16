// Reads kvc's configuration directory: the global files and one instance's file.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { readConfFile, type ConfFile } from './conf-file.js';
import { globalSettingsFrom, instanceSettingsFrom, INSTANCE_NAME, type GlobalSettings, type InstanceSettings } from './settings.js';

// The global files, in the order they are merged (later wins).
export const GLOBAL_FILES = ['kmods-via-containers.conf', 'kvc.conf'] as const;

// Default configuration directory (overridden by --config-dir or KVC_CONFIG_DIR).
export const DEFAULT_CONFIG_DIR = '/etc/kvc';

// Reads kvc.conf and, when present, the bash KVC's kmods-via-containers.conf. Both are optional.
export async function loadGlobalSettings(configDir: string): Promise<GlobalSettings> {
  const files: ConfFile[] = [];
  for (const name of GLOBAL_FILES) {
    const file = await readConfFile(join(configDir, name), true, name === 'kmods-via-containers.conf');
    if (file !== undefined) files.push(file);
  }
  return globalSettingsFrom(files);
}

// Checks an instance name given on the command line.
export function checkInstanceName(name: string): string {
  if (!INSTANCE_NAME.test(name)) {
    throw new UsageError(`${JSON.stringify(name)} is not an instance name`, { hint: 'instance names are lower-case letters, digits, "_" and "-", e.g. usbip' });
  }
  return name;
}

// Reads and validates <config-dir>/<name>.conf.
export async function loadInstanceSettings(configDir: string, name: string, deviceManagers: readonly string[]): Promise<InstanceSettings> {
  checkInstanceName(name);
  const path = join(configDir, `${name}.conf`);
  const file = await readConfFile(path, true);
  if (file === undefined) {
    const known = await listInstanceNames(configDir).catch(() => []);
    throw new UsageError(`unknown instance ${JSON.stringify(name)}: ${path} does not exist`, {
      hint: known.length > 0 ? `configured instances: ${known.join(', ')}` : `no instances are configured in ${configDir}`,
    });
  }
  return instanceSettingsFrom(name, file, deviceManagers);
}

// Names of the configured instances: every <name>.conf in the directory but the global files.
export async function listInstanceNames(configDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(configDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new ConfigError(configDir, undefined, `cannot be listed (${code ?? String(error)})`, { cause: error });
  }
  return names
    .filter((file) => file.endsWith('.conf') && !(GLOBAL_FILES as readonly string[]).includes(file))
    .map((file) => file.slice(0, -'.conf'.length))
    .filter((name) => INSTANCE_NAME.test(name))
    .sort();
}
