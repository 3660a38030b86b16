// Checks the JSON the runtime prints, keeping only the fields kvc uses. Pure, tested on recorded output.

// What kvc needs of an image.
export interface ImageInfo {
  readonly id: string;
  readonly names: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly created: string;
  readonly size: number;
  // The image it was built on ('' when the runtime does not say: docker's BuildKit).
  readonly parent: string;
}

// What kvc needs of a container.
export interface ContainerInfo {
  readonly id: string;
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
      pid: typeof state['Pid'] === 'number' ? state['Pid'] : 0,
      running: state['Running'] === true,
    };
  });
}

// One ID a line, as `images --quiet --no-trunc` prints them.
export function parseIdList(text: string): string[] {
  return [...new Set(text.split('\n').map((line) => line.trim().replace(/^sha256:/, '')).filter((line) => line !== ''))];
}

// Whether a failed `inspect` means "no such object" rather than a broken runtime.
export function isNoSuchObject(stderr: string): boolean {
  return /no such (image|object|container)|image not known|not found|failed to find image|no container with name or id/i.test(stderr);
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
