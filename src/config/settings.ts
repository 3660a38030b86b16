// The validated, typed settings kvc works from: built once from the files, never re-read.
import { closest } from './did-you-mean.js';
import { isAbsolute, dirname, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { assertTrusted } from './trust.js';
import type { ConfFile } from './conf-file.js';
import { GLOBAL_KEYS, INSTANCE_KEYS } from './keys.js';
import { kubeSettingsFrom, type KubeSettings } from './kube-settings.js';
import { parseBuildArgs, type BuildArgs } from './build-args.js';
import { recipeDigest } from './recipe.js';
import { isSysfsWritePattern } from '../host/apparmor-profile.js';
import { signingKeyFrom, type ConfiguredSigningKey } from './signing-settings.js';
import { globalRegistryFrom, registryLayerFrom, type GlobalRegistry, type RegistryLayer } from './registry-settings.js';

import type { RuntimeName } from '../runtime/runtime-name.js';

export type { RuntimeName };

// Host-wide settings from kvc.conf.
export interface GlobalSettings {
  readonly runtime: RuntimeName;
  readonly keepKernels: number;
  readonly buildNetwork: string | undefined;
  readonly retrySeconds: number;
  // KVC_BUILD_ON_KERNEL_INSTALL=yes: the kernel hook builds when the service is not running.
  readonly buildOnKernelInstall: boolean;
  // KVC_SIGN_KEY and KVC_SIGN_CERT: the module signing key the owner names, if any.
  readonly signingKey: ConfiguredSigningKey | undefined;
  // KVC_IMAGE_* and KVC_BUILD_FALLBACK: where images are pulled from and published to.
  readonly registry: GlobalRegistry;
  readonly warnings: readonly string[];
}

// Where an instance builds from: a local folder (checked to exist) or a URL the runtime fetches.
export type BuildContext =
  | { readonly kind: 'dir'; readonly path: string; readonly file: string; readonly recipe: string | undefined }
  | { readonly kind: 'url'; readonly url: string; readonly file: string };

// One instance (a <name>.conf): what to build and which modules to load.
export interface InstanceSettings {
  readonly name: string;
  readonly confPath: string;
  readonly context: BuildContext;
  readonly softwareVersion: string;
  readonly modules: readonly string[];
  readonly kernelRequires: readonly string[];
  // KVC_BUILD_ARGS: the Containerfile's own build arguments (KVER and KMODVER are kvc's).
  readonly buildArgs: BuildArgs;
  // Tools in the image (absolute paths) that get a host command named as their file.
  readonly hostTools: readonly string[];
  // KVC_TOOLS_SYSFS_WRITES: the sysfs files its tools and daemons write; undefined: all of /sys.
  readonly toolsSysfsWrites: readonly string[] | undefined;
  // The device manager the service runs (KVC_DEVICE_MANAGER), e.g. usbip.
  readonly deviceManager: string | undefined;
  // KVC_SERVICE_UNPINNED=yes: the service may build from an unpinned remote context.
  readonly serviceUnpinned: boolean;
  // KVC_KERNEL_SOURCE / KVC_KERNEL_CONFIG: the kernel's source and config for the header-less recipe.
  readonly kernelInputs: { readonly source?: string | undefined; readonly config?: string | undefined };
  // What `kvc kube` renders for this instance beyond its modules (KVC_KUBE_* keys).
  readonly kube: KubeSettings;
  // The instance's own KVC_IMAGE_REPO and KVC_BUILD_FALLBACK (kvc.conf's apply where unset).
  readonly registry: RegistryLayer;
  readonly warnings: readonly string[];
}

// What an instance name may be: lower-case letters, digits, "_" and "-".
export const INSTANCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
// What a module name in KMOD_NAMES may be.
export const MODULE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,55}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KERNEL_OPTION = /^CONFIG_[A-Z0-9_]{1,80}$/;

// Merges global files in order (later wins) and validates them.
export function globalSettingsFrom(files: readonly ConfFile[]): GlobalSettings {
  const warnings: string[] = [];
  const merged = new Map<string, { value: string; file: string }>();
  for (const file of files) {
    if (file.skipped !== undefined && file.skipped.length > 0) {
      warnings.push(`${file.path}: lines ${file.skipped.join(', ')} are shell code, not KEY=value settings, and are skipped (the bash KVC's runtime detection means podman here)`);
    }
    for (const [key, entry] of file.entries) {
      if (!(key in GLOBAL_KEYS)) warnings.push(unknownKey(file, key, entry.line, Object.keys(GLOBAL_KEYS)));
      merged.set(key, { value: entry.value, file: file.path });
    }
  }
  const runtimeEntry = merged.get('KVC_CONTAINER_RUNTIME');
  const runtime = runtimeEntry === undefined ? 'podman' : parseRuntimeName(runtimeEntry.value, runtimeEntry.file);
  const wholeNumber = (key: string, fallback: number): number => {
    const entry = merged.get(key);
    if (entry === undefined || entry.value === '') return fallback;
    if (!/^\d{1,6}$/.test(entry.value)) {
      throw new ConfigError(entry.file, key, `must be a whole number, not ${JSON.stringify(entry.value)}`, { hint: `write e.g. ${key}=${fallback}` });
    }
    return Number(entry.value);
  };
  const retrySeconds = wholeNumber('KVC_BUILD_RETRY_SECONDS', 60);
  if (retrySeconds < 1) {
    throw new ConfigError(merged.get('KVC_BUILD_RETRY_SECONDS')!.file, 'KVC_BUILD_RETRY_SECONDS', 'must be at least 1 (0 would retry a failing build without pause)', { hint: 'write e.g. KVC_BUILD_RETRY_SECONDS=60' });
  }
  const keepKernels = wholeNumber('KVC_KEEP_KERNELS', 3);
  const networkEntry = merged.get('KVC_BUILD_NETWORK');
  const buildNetwork = networkEntry === undefined || networkEntry.value === '' ? undefined : networkEntry.value;
  if (buildNetwork !== undefined && !/^[a-z][a-z0-9_.-]{0,63}$/.test(buildNetwork)) {
    throw new ConfigError(networkEntry!.file, 'KVC_BUILD_NETWORK', `${JSON.stringify(buildNetwork)} is not a network mode`, { hint: 'write e.g. KVC_BUILD_NETWORK=host, or leave it empty' });
  }
  const onInstall = merged.get('KVC_BUILD_ON_KERNEL_INSTALL');
  if (onInstall !== undefined && !['', 'yes', 'no'].includes(onInstall.value)) {
    throw new ConfigError(onInstall.file, 'KVC_BUILD_ON_KERNEL_INSTALL', `must be yes or no, not ${JSON.stringify(onInstall.value)}`, { hint: 'write KVC_BUILD_ON_KERNEL_INSTALL=yes to build in the kernel hook when the service is not running' });
  }
  return { runtime, keepKernels, buildNetwork, retrySeconds, buildOnKernelInstall: onInstall?.value === 'yes', signingKey: signingKeyFrom(merged), registry: globalRegistryFrom((key) => merged.get(key)), warnings };
}

// Accepts podman or docker (the --runtime option and KVC_CONTAINER_RUNTIME share this check).
export function parseRuntimeName(value: string, source: string): RuntimeName {
  if (value === 'podman' || value === 'docker') return value;
  throw new ConfigError(source, 'KVC_CONTAINER_RUNTIME', `must be podman or docker, not ${JSON.stringify(value)}`, { hint: 'set KVC_CONTAINER_RUNTIME=podman' });
}

// Validates an instance file into settings; every error names the file, the key and the fix.
export function instanceSettingsFrom(name: string, file: ConfFile, deviceManagers: readonly string[]): InstanceSettings {
  const warnings: string[] = [];
  for (const [key, entry] of file.entries) {
    if (!(key in INSTANCE_KEYS)) warnings.push(unknownKey(file, key, entry.line, Object.keys(INSTANCE_KEYS)));
  }
  const required = (key: keyof typeof INSTANCE_KEYS, example: string): string => {
    const entry = file.entries.get(key);
    if (entry === undefined) throw new ConfigError(file.path, key, 'is missing', { hint: `add a line such as ${key}=${example}` });
    if (entry.value.trim() === '') throw new ConfigError(file.path, key, 'is empty', { hint: `give it a value, e.g. ${key}=${example}` });
    return entry.value.trim();
  };

  const contextValue = required('KMOD_CONTAINER_BUILD_CONTEXT', '/etc/kvc/' + name);
  const fileValue = required('KMOD_CONTAINER_BUILD_FILE', 'Containerfile');
  const softwareVersion = required('KMOD_SOFTWARE_VERSION', '1.0');
  if (!VERSION.test(softwareVersion)) {
    throw new ConfigError(file.path, 'KMOD_SOFTWARE_VERSION', `${JSON.stringify(softwareVersion)} is not a plain version (letters, digits, ".", "_", "-")`, { hint: 'write e.g. KMOD_SOFTWARE_VERSION=1.0.0' });
  }
  const modules = words(required('KMOD_NAMES', '"module-a module-b"'));
  for (const module of modules) {
    if (!MODULE_NAME.test(module)) {
      throw new ConfigError(file.path, 'KMOD_NAMES', `${JSON.stringify(module)} is not a module name (only A-Z a-z 0-9 _ -, not starting with -)`, { hint: 'list module names separated by spaces, e.g. KMOD_NAMES="usbip-core vhci-hcd"' });
    }
  }
  const seen = new Set<string>();
  for (const module of modules) {
    const canonical = module.replaceAll('-', '_');
    if (seen.has(canonical)) throw new ConfigError(file.path, 'KMOD_NAMES', `lists ${module} twice`, { hint: 'list each module once' });
    seen.add(canonical);
  }
  const kernelRequires = words(file.entries.get('KMOD_KERNEL_REQUIRES')?.value ?? '');
  for (const option of kernelRequires) {
    if (!KERNEL_OPTION.test(option)) {
      throw new ConfigError(file.path, 'KMOD_KERNEL_REQUIRES', `${JSON.stringify(option)} is not a kernel option name`, { hint: 'write e.g. KMOD_KERNEL_REQUIRES="CONFIG_USB"' });
    }
  }
  const hostTools = words(file.entries.get('KVC_HOST_TOOLS')?.value ?? '');
  const commands = new Set<string>();
  for (const tool of hostTools) {
    const command = tool.slice(tool.lastIndexOf('/') + 1);
    if (!HOST_TOOL.test(tool) || !COMMAND_NAME.test(command) || tool.split('/').includes('..')) {
      throw new ConfigError(file.path, 'KVC_HOST_TOOLS', `${JSON.stringify(tool)} is not an absolute path of a tool in the image (letters, digits, "." "_" "+" "-" and "/")`, { hint: 'write e.g. KVC_HOST_TOOLS="/usr/sbin/usbip /usr/sbin/usbipd"' });
    }
    if (commands.has(command)) throw new ConfigError(file.path, 'KVC_HOST_TOOLS', `names two tools called ${command}`, { hint: 'a host command is named after its tool: list each name once' });
    commands.add(command);
  }
  const sysfsWritesValue = file.entries.get('KVC_TOOLS_SYSFS_WRITES')?.value;
  const toolsSysfsWrites = sysfsWritesValue === undefined ? undefined : words(sysfsWritesValue);
  for (const pattern of toolsSysfsWrites ?? []) {
    if (!isSysfsWritePattern(pattern)) {
      throw new ConfigError(file.path, 'KVC_TOOLS_SYSFS_WRITES', `${JSON.stringify(pattern)} is not a sysfs file pattern (/sys/ then names of letters, digits, . _ : @ + -, with * inside a name or ** as a whole name)`, { hint: 'write e.g. KVC_TOOLS_SYSFS_WRITES="/sys/bus/usb/drivers/*/bind /sys/devices/**/usbip_sockfd"' });
    }
  }
  const deviceManager = file.entries.get('KVC_DEVICE_MANAGER')?.value.trim() || undefined;
  if (deviceManager !== undefined && !deviceManagers.includes(deviceManager)) {
    throw new ConfigError(file.path, 'KVC_DEVICE_MANAGER', `${JSON.stringify(deviceManager)} is not a device manager kvc has`, { hint: `device managers: ${deviceManagers.join(', ')}; or leave the key out` });
  }
  const unpinned = file.entries.get('KVC_SERVICE_UNPINNED')?.value.trim() ?? '';
  if (!['', 'yes', 'no'].includes(unpinned)) {
    throw new ConfigError(file.path, 'KVC_SERVICE_UNPINNED', `must be yes or no, not ${JSON.stringify(unpinned)}`, { hint: 'write KVC_SERVICE_UNPINNED=yes only if the service may build from an unpinned remote source' });
  }
  return {
    name,
    confPath: file.path,
    deviceManager,
    toolsSysfsWrites,
    serviceUnpinned: unpinned === 'yes',
    kernelInputs: { source: kernelInputPath(file, 'KVC_KERNEL_SOURCE'), config: kernelInputPath(file, 'KVC_KERNEL_CONFIG') },
    context: buildContextFrom(file.path, contextValue, fileValue),
    softwareVersion,
    modules,
    kernelRequires,
    buildArgs: parseBuildArgs(file.entries.get('KVC_BUILD_ARGS')?.value ?? '', file.path),
    hostTools,
    kube: kubeSettingsFrom(file),
    registry: registryLayerFrom((key) => {
      const entry = file.entries.get(key);
      return entry === undefined ? undefined : { value: entry.value, file: file.path };
    }),
    warnings,
  };
}

// Where an instance builds from, for people: a local folder, or a remote repository and how
// firmly its #ref pins what is built (a full commit id pins it; a branch or tag can move).
export function describeContext(context: BuildContext): { remote: boolean; source: string; pinned: 'local' | 'commit' | 'ref' | 'none' } {
  if (context.kind === 'dir') return { remote: false, source: context.path, pinned: 'local' };
  const ref = context.url.includes('#') ? context.url.slice(context.url.indexOf('#') + 1).split(':')[0] ?? '' : '';
  return { remote: true, source: context.url, pinned: ref === '' ? 'none' : /^[0-9a-f]{40}$/.test(ref) ? 'commit' : 'ref' };
}

// KVC_KERNEL_SOURCE / KVC_KERNEL_CONFIG: an absolute path a build may mount or pass as a secret
// (no ',' or ':', which those options would split on), or undefined when unset or empty.
function kernelInputPath(file: ConfFile, key: 'KVC_KERNEL_SOURCE' | 'KVC_KERNEL_CONFIG'): string | undefined {
  const value = file.entries.get(key)?.value.trim() ?? '';
  if (value === '') return undefined;
  if (!value.startsWith('/') || /[,:\n\0]/.test(value) || value.split('/').includes('..')) {
    throw new ConfigError(file.path, key, `${JSON.stringify(value)} is not an absolute path without ',', ':' or '..'`, { hint: `write e.g. ${key}=${key === 'KVC_KERNEL_SOURCE' ? '/usr/src/linux-6.6.87.tar.xz' : '/usr/src/linux-6.6.87/.config'}` });
  }
  return value;
}

const HOST_TOOL = /^\/[A-Za-z0-9._+/-]+$/;
const COMMAND_NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;

function words(value: string): string[] {
  return value.split(/\s+/).filter((word) => word !== '');
}

function buildContextFrom(confPath: string, contextValue: string, fileValue: string): BuildContext {
  const key = 'KMOD_CONTAINER_BUILD_CONTEXT';
  if (contextValue.startsWith('-') || fileValue.startsWith('-')) {
    throw new ConfigError(confPath, contextValue.startsWith('-') ? key : 'KMOD_CONTAINER_BUILD_FILE', 'must not start with "-" (it would be read as an option)', { hint: 'write a path or an https:// URL' });
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(contextValue);
  if (scheme !== null) {
    const name = (scheme[1] as string).toLowerCase();
    // What podman and docker build from: an https:// repository or archive, or a git:// repository
    // (the bash KVC's instance files use git://), either with an optional #ref.
    if (name !== 'https' && name !== 'git') {
      throw new ConfigError(confPath, key, `uses the URL scheme ${scheme[1]}://, which kvc does not build from`, { hint: 'use a local directory, an https:// URL or a git:// repository' });
    }
    if ((scheme[2] as string).includes('@')) {
      // Never printed: --dry-run and --verbose show the URL, and logs keep it.
      throw new ConfigError(confPath, key, 'has credentials in its URL (user or token before @), which kvc would print in logs', { hint: 'remove them from the URL and give them to git instead (root\'s git credential helper, e.g. git config --global credential.helper store)' });
    }
    if (/\s/.test(contextValue)) throw new ConfigError(confPath, key, 'is a URL with spaces in it', { hint: 'write the URL without spaces' });
    if (isAbsolute(fileValue) || fileValue.split('/').includes('..')) {
      throw new ConfigError(confPath, 'KMOD_CONTAINER_BUILD_FILE', 'must be a path inside the repository when the context is a URL', { hint: 'write e.g. KMOD_CONTAINER_BUILD_FILE=Containerfile' });
    }
    return { kind: 'url', url: contextValue, file: fileValue };
  }
  if (/^[A-Za-z0-9.-]+@[A-Za-z0-9.-]+:/.test(contextValue)) {
    throw new ConfigError(confPath, key, 'looks like an scp-style git address, which kvc does not build from', { hint: 'use an https:// URL or a local directory' });
  }
  const dir = resolve(dirname(confPath), contextValue);
  if (!isDirectory(dir)) {
    throw new ConfigError(confPath, key, `${dir} is not a directory`, { hint: 'create it with the Containerfile in it, or fix the path (relative paths start at the folder of the .conf file)' });
  }
  const buildFile = resolve(dir, fileValue);
  if (!isFile(buildFile)) {
    throw new ConfigError(confPath, 'KMOD_CONTAINER_BUILD_FILE', `${buildFile} does not exist`, { hint: `put the Containerfile there or fix the name (it is relative to ${dir})` });
  }
  assertTrusted(dir, confPath, key);
  assertTrusted(buildFile, confPath, 'KMOD_CONTAINER_BUILD_FILE');
  return { kind: 'dir', path: dir, file: buildFile, recipe: recipeDigest(dir, buildFile) };
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

// A key kvc does not know: a slip of a known key (KMOD_NAME, KVC_BUILD_ARG) is an error naming the
// right one (ignoring it would build or load something else than meant); any other is a warning
// (files of the bash KVC may set variables of their own).
function unknownKey(file: ConfFile, key: string, line: number, known: readonly string[]): string {
  const meant = closest(key, known);
  if (meant !== undefined) {
    throw new ConfigError(`${file.path}:${line}`, key, `is not a kvc setting; did you mean ${meant}?`, { hint: `rename it to ${meant}` });
  }
  return `${file.path}:${line}: ${key} is not a kvc setting and is ignored`;
}
