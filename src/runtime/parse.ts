// Checks the JSON the runtime prints, keeping only the fields kvc uses. Pure, tested on recorded output.
import { parseRuleText, type DeviceRule } from '../host/device-cgroup-rules.js';

// What kvc needs of an image.
export interface ImageInfo {
  readonly id: string;
  readonly names: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly created: string;
  readonly size: number;
  // The image it was built on ('' when the runtime does not say: docker's BuildKit).
  readonly parent: string;
  // The steps that made it, newest first, as `history` prints them (empty when the runtime's
  // inspect has no history: docker's).
  readonly steps: readonly string[];
}

// What kvc needs of a container.
export interface ContainerInfo {
  readonly id: string;
  // Its name, without docker's leading "/".
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function array(text: string, what: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text === '' ? '[]' : text);
  } catch (error) {
    throw new Error(`the runtime's ${what} output is not JSON: ${text.slice(0, 80)}`, { cause: error });
  }
  if (!Array.isArray(parsed)) throw new Error(`the runtime's ${what} output is not a JSON array`);
  return parsed;
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(record(value))) if (typeof item === 'string') out[key] = item;
  return out;
}

// `image inspect` output of podman or docker.
export function parseImageInspect(text: string): ImageInfo[] {
  return array(text, 'image inspect').map((item) => {
    const image = record(item);
    const config = record(image['Config']);
    const labels = stringRecord(image['Labels'] ?? config['Labels']);
    const tags = Array.isArray(image['RepoTags']) ? image['RepoTags'].filter((tag): tag is string => typeof tag === 'string') : [];
    return {
      id: typeof image['Id'] === 'string' ? image['Id'].replace(/^sha256:/, '') : '',
      names: tags,
      labels,
      created: typeof image['Created'] === 'string' ? image['Created'] : '',
      size: typeof image['Size'] === 'number' ? image['Size'] : 0,
      parent: typeof image['Parent'] === 'string' ? image['Parent'].replace(/^sha256:/, '') : '',
      steps: Array.isArray(image['History']) ? image['History'].map((step) => record(step)['created_by']).filter((step): step is string => typeof step === 'string').reverse() : [],
    };
  });
}

// `container inspect` output of podman or docker.
export function parseContainerInspect(text: string): ContainerInfo[] {
  return array(text, 'container inspect').map((item) => {
    const container = record(item);
    const state = record(container['State']);
    return {
      id: typeof container['Id'] === 'string' ? container['Id'] : '',
      name: typeof container['Name'] === 'string' ? container['Name'].replace(/^\//, '') : '',
      pid: typeof state['Pid'] === 'number' ? state['Pid'] : 0,
      running: state['Running'] === true,
    };
  });
}

// What kvc needs of a container to give it device nodes: is it running, which process, and what
// it may do with devices (privileges, capabilities, device cgroup rules).
export interface ContainerAccess {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  readonly pid: number;
  readonly privileged: boolean;
  // The capabilities its process has and may ever have (podman's EffectiveCaps, BoundingCaps;
  // undefined when the runtime does not say: docker), CAP_ names.
  readonly effectiveCaps: readonly string[] | undefined;
  readonly boundingCaps: readonly string[] | undefined;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  // The container's cgroup as the host sees it (podman's State.CgroupPath; '' when not said).
  readonly cgroupPath: string;
  // Where the runtime keeps the OCI spec it started the container with ('' when not said).
  readonly ociConfigPath: string;
  // The device cgroup rules when the inspect output shows them (docker's HostConfig.DeviceCgroupRules);
  // podman 4.3 does not (they are in its OCI spec, see parseOciDeviceRules).
  readonly deviceRules: readonly DeviceRule[] | undefined;
  // Whether it has user ID mappings of its own (a user namespace).
  readonly userNamespace: boolean;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

// "mknod", "MKNOD", "CAP_MKNOD" → "CAP_MKNOD" ("ALL" stays "ALL").
export function capabilityName(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper === 'ALL' || upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

// `container inspect` output, with what device access needs.
export function parseContainerAccess(text: string): ContainerAccess[] {
  return array(text, 'container inspect').map((item) => {
    const container = record(item);
    const state = record(container['State']);
    const host = record(container['HostConfig']);
    const caps = (value: unknown): string[] | undefined => (Array.isArray(value) ? strings(value).map(capabilityName) : undefined);
    const ruleTexts = Array.isArray(host['DeviceCgroupRules']) ? strings(host['DeviceCgroupRules']) : undefined;
    const idMappings = record(host['IDMappings']);
    return {
      id: typeof container['Id'] === 'string' ? container['Id'] : '',
      name: typeof container['Name'] === 'string' ? container['Name'].replace(/^\//, '') : '',
      running: state['Running'] === true,
      pid: typeof state['Pid'] === 'number' ? state['Pid'] : 0,
      privileged: host['Privileged'] === true,
      effectiveCaps: caps(container['EffectiveCaps']),
      boundingCaps: caps(container['BoundingCaps']),
      capAdd: strings(host['CapAdd']).map(capabilityName),
      capDrop: strings(host['CapDrop']).map(capabilityName),
      cgroupPath: typeof state['CgroupPath'] === 'string' ? state['CgroupPath'] : '',
      ociConfigPath: typeof container['OCIConfigPath'] === 'string' ? container['OCIConfigPath'] : '',
      // A rule text kvc cannot read is left out: it then grants nothing as far as kvc is concerned.
      deviceRules: ruleTexts?.map(parseRuleText).filter((rule): rule is DeviceRule => rule !== undefined),
      userNamespace: strings(idMappings['UidMap']).length > 0 || (typeof host['UsernsMode'] === 'string' && !['', 'host'].includes(host['UsernsMode'])),
    };
  });
}

// The device cgroup rules of an OCI runtime spec (config.json's linux.resources.devices): what
// runc was told to let the container open (podman puts --device-cgroup-rule and --device there).
// An entry kvc cannot read counts as a denial of everything at its place (it may have been one).
export function parseOciDeviceRules(text: string): DeviceRule[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`the container's OCI spec is not JSON: ${text.slice(0, 80)}`, { cause: error });
  }
  const devices = record(record(record(parsed)['linux'])['resources'])['devices'];
  if (!Array.isArray(devices)) return [];
  const rules: DeviceRule[] = [];
  for (const entry of devices.map(record)) {
    const type = entry['type'] ?? 'a';
    const number = (value: unknown): number | undefined | null => (value === undefined || value === null || value === -1 ? undefined : typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null);
    const major = number(entry['major']);
    const minor = number(entry['minor']);
    const access = entry['access'] ?? 'rwm';
    if (typeof entry['allow'] !== 'boolean' || (type !== 'a' && type !== 'b' && type !== 'c') || major === null || minor === null || typeof access !== 'string' || !/^[rwm]*$/.test(access)) {
      rules.push({ allow: false, type: 'a', major: undefined, minor: undefined, access: 'rwm' });
      continue;
    }
    rules.push({ allow: entry['allow'], type, major, minor, access: access === '' ? 'rwm' : access });
  }
  return rules;
}

// One ID a line, as `images --quiet --no-trunc` prints them.
export function parseIdList(text: string): string[] {
  return [...new Set(text.split('\n').map((line) => line.trim().replace(/^sha256:/, '')).filter((line) => line !== ''))];
}

// Whether a failed `inspect` means "no such object" rather than a broken runtime: podman's and
// docker's own words for it, never a bare "not found" (podman says "runtime … not found" when it
// is itself broken, which must not read as "the image is missing, build it").
export function isNoSuchObject(stderr: string): boolean {
  return /no such (image|object|container)|image not known|failed to find image|no container with name or id|\b(image|container) "?[^\s"]+"? not found/i.test(stderr);
}

// A runtime's output that says its storage (or the build's scratch space) is full.
export function saysNoSpace(text: string): boolean {
  return /no space left on device|\bENOSPC\b/i.test(text);
}

// Whether an image's history (`history --format {{.CreatedBy}}`, one step a line) has a step run
// with the build argument KVER=<kver>: the image then holds something of that kernel (its
// headers, its sources, its modules). The steps before the Containerfile first uses KVER (the
// toolchain, the tools) are shared by the builds of every kernel.
export function dependsOnKernel(history: string, kver: string): boolean {
  const escaped = kver.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|\\s)KVER=${escaped}(\\s|$)`, 'm').test(history);
}

// Whether the newest step of an image's history (its first line) only set metadata (ARG, ENV,
// LABEL, WORKDIR…): such a step image holds no files, and keeping it as a cache saves nothing.
export function isMetadataStep(history: string): boolean {
  const newest = history.split('\n')[0] ?? '';
  return /#\(nop\) (ARG|ENV|LABEL|WORKDIR|USER|EXPOSE|VOLUME|CMD|ENTRYPOINT|STOPSIGNAL|HEALTHCHECK|SHELL|ONBUILD|MAINTAINER)\b/.test(newest);
}

// The last line of a runtime's stderr that says something: blank lines and the docker CLI's own
// "error waiting for container: context canceled" left out (docker prints it after the daemon's
// reason when a container cannot start, which would otherwise hide that reason). Pure.
export function lastSaid(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/error waiting for container: context canceled/.test(line));
  return lines.pop() ?? '';
}
