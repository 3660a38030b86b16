// Argument arrays for the container runtime, one builder per job. Pure: no spawning here.
import type { RuntimeName } from './runtime-name.js';
import { KernelRefusedError } from '../errors.js';

// The labels kvc puts on the containers it runs, so it can find them again (images' labels:
// src/images/labels.ts).
export const CONTAINER_LABEL = {
  instance: 'io.kvc.instance',
  role: 'io.kvc.role',
} as const;

// A file the build may read at /run/secrets/<id> in a `RUN --mount=type=secret,id=<id>` step, and
// nowhere else: never in a layer, a label or the build context (the module signing key).
export interface BuildSecret {
  readonly id: string;
  readonly src: string;
}

// What `build` needs.
export interface BuildSpec {
  readonly tag: string;
  readonly file: string;
  readonly context: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly network?: string | undefined;
  // Reuse no cached step: every step runs again (fresh packages).
  readonly noCache?: boolean;
  readonly secrets?: readonly BuildSecret[];
  // Read-only bind mounts (readOnlyVolume) every RUN step sees and no layer keeps: a kernel source
  // folder or modules tree the user's build reads (podman only; docker's build has no --volume).
  readonly volumes?: readonly string[];
}

// `build`: KVER and KMODVER as the bash KVC passes them, kvc's labels, intermediate containers
// removed. Layers are kept (podman's default), so the steps that do not depend on the kernel
// (toolchain, tools) are shared by every kernel's build and image; what a build leaves of its
// builder stages for that kernel is removed after it (ContainerRuntime.removeBuildLeftovers).
export function buildArgs(runtime: RuntimeName, spec: BuildSpec): string[] {
  const args = ['build', '--file', spec.file, '--tag', spec.tag, '--force-rm'];
  if (runtime === 'podman') args.push('--layers');
  if (spec.noCache === true) args.push('--no-cache');
  for (const [key, value] of Object.entries(spec.buildArgs)) args.push('--build-arg', `${key}=${value}`);
  for (const [key, value] of Object.entries(spec.labels)) args.push('--label', `${key}=${value}`);
  for (const secret of spec.secrets ?? []) args.push('--secret', secretArg(secret));
  if ((spec.volumes ?? []).length > 0 && runtime !== 'podman') {
    throw new KernelRefusedError(`${runtime} cannot mount a host folder into a build (${(spec.volumes ?? []).join(', ')})`, { hint: 'use podman, or give the kernel source as a tarball on a host whose kernel modules kvc need not read' });
  }
  for (const volume of spec.volumes ?? []) args.push('--volume', volume);
  if (spec.network !== undefined && spec.network !== '') args.push(`--network=${spec.network}`);
  args.push(spec.context);
  return args;
}

// `--secret id=…,src=…`: its options are comma-separated, so neither part may hold a ',' (or '=' in the id).
export function secretArg(secret: BuildSecret): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(secret.id)) throw new KernelRefusedError(`cannot pass build secret ${JSON.stringify(secret.id)}: not a plain name`);
  if (!secret.src.startsWith('/') || /[,\n\0]/.test(secret.src)) {
    throw new KernelRefusedError(`cannot pass ${secret.src} to a build as a secret: its path is not absolute or has a ','`, { hint: 'give the file a path without one' });
  }
  return `id=${secret.id},src=${secret.src}`;
}

// Every `run` below passes its output to kvc (or to the caller) and keeps no log of its own: under
// systemd, podman's journald log driver would write it to the unit's journal a second time.

// `run` of kmod (modprobe, rmmod, modinfo) for loading and unloading: CAP_SYS_MODULE only, no network.
// SELinux labelling is disabled because a confined container type may not load kernel modules.
export function moduleRunArgs(image: string, command: readonly string[], extraVolumes: readonly string[] = []): string[] {
  const args = [
    'run', '--rm', '--pull=never', '--log-driver=none', '--network=none',
    '--cap-drop=all', '--cap-add=SYS_MODULE', '--security-opt=no-new-privileges', '--security-opt=label=disable',
  ];
  for (const volume of extraVolumes) args.push('--volume', volume);
  args.push(image, ...command);
  return args;
}

// Where the load container sees the host kernel's own module tree: `modprobe -d` takes this prefix.
export const HOST_MODULES_PREFIX = '/kvc-host';

// A read-only bind mount of a host folder (a path kvc found) at `at` in the container.
export function readOnlyVolume(host: string, at: string): string {
  if (/[:,]/.test(host)) throw new KernelRefusedError(`cannot mount ${host} into a container: its path has a ':' or ','`, { hint: 'give that folder a path without them' });
  return `${host}:${at}:ro`;
}

// The read-only bind mount of the host's /lib/modules/<kver> (a folder kvc found) under that prefix.
export function hostModulesVolume(dir: string, kver: string): string {
  return readOnlyVolume(dir, `${HOST_MODULES_PREFIX}/lib/modules/${kver}`);
}

// Where modprobe reads its configuration (options, install and softdep lines, blacklists): the
// load container gets the host's, each read-only at its own place, so that modprobe in the image
// honours the host's options (`options usbcore authorized_default=0`) and install overrides.
export const MODPROBE_CONFIG_DIRS = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d', '/usr/lib/modprobe.d', '/lib/modprobe.d'] as const;

// `run` of a command that only reads the image (modinfo): no capabilities, no network.
export function inspectRunArgs(image: string, command: readonly string[]): string[] {
  return ['run', '--rm', '--pull=never', '--log-driver=none', '--network=none', '--cap-drop=all', '--security-opt=no-new-privileges', image, ...command];
}

// What the tools touch of the host, mounted explicitly instead of --privileged (which would also
// give every capability and no seccomp filter): /sys read-write (binding, attaching and detaching
// are writes to root-owned sysfs files, which uid 0 may write without capabilities). No host /dev:
// a tool writes device nodes only where a payload grants them (src/ops/container-devices.ts).
const HOST_SYS = ['--mount', 'type=bind,src=/sys,dst=/sys'];

// What every container that runs a tool or daemon of the image has: no capabilities, the default
// seccomp filter, no new privileges, and a root file system nobody in it can change (a tool that
// is subverted cannot plant a binary another one runs later). SELinux labelling is disabled so
// that the host's /sys may be written where it is bound read-write.
const CONFINED = ['--read-only', '--cap-drop=all', '--security-opt=no-new-privileges', '--security-opt=label=disable'];

// CONFINED for the runtime. podman's --read-only mounts a tmpfs on /run, /tmp and /var/tmp (its
// read-only-tmpfs default); docker's does not, and the usbip tool writes its port records under
// /run (/var/run/vhci_hcd: without them `usbip port` names no server): docker's containers get
// the same scratch folders.
function confined(runtime: RuntimeName): string[] {
  return runtime === 'docker' ? [...CONFINED, '--tmpfs=/run', '--tmpfs=/tmp', '--tmpfs=/var/tmp'] : CONFINED;
}

// `run` of a userspace tool for the wrapper and the pre-unload hook: the host's network (usbip
// attach hands its TCP socket to the kernel; a private namespace would take it down with the
// container), /sys as above, confined; stdin kept open, a TTY when the caller has one.
export function toolRunArgs(image: string, command: readonly string[], options: { tty: boolean; apparmor?: string | undefined; runtime?: RuntimeName }): string[] {
  const args = ['run', '--rm', '--interactive'];
  if (options.tty) args.push('--tty');
  args.push('--pull=never', '--log-driver=none', '--network=host', ...confined(options.runtime ?? 'podman'), ...apparmorArgs(options.apparmor), ...HOST_SYS, image, ...command);
  return args;
}

// The AppArmor profile kvc loaded for an instance's tools (host/apparmor-profile.ts), when the
// host has AppArmor: the runtime's default profile would deny their writes under /sys.
function apparmorArgs(profile: string | undefined): string[] {
  if (profile === undefined) return [];
  if (!/^kvc-[a-z0-9][a-z0-9_-]*$/.test(profile)) throw new KernelRefusedError(`cannot run a container under the AppArmor profile ${JSON.stringify(profile)}: not a plain name`, { hint: 'this is a bug in kvc: report it' });
  return [`--security-opt=apparmor=${profile}`];
}

// `run --detach` of the tools container that stays up while an instance is loaded: the host
// commands and the service run the image's tools in it with `exec` (no container start per call;
// the tool is then in the container's cgroup, with its device rules, and never has a capability).
// It runs `sleep` on the host's network, confined, /sys as above, and each state folder of the
// payload's tools bound from the host (read-write: the tools write there).
export function toolsHolderRunArgs(runtime: RuntimeName, image: string, containerName: string, instance: string, apparmor?: string, state: readonly StateMount[] = []): string[] {
  const mounts = state.flatMap(({ host, container }) => {
    if (![host, container].every((path) => path.startsWith('/') && !/[,\n"]/.test(path))) throw new KernelRefusedError(`cannot bind ${JSON.stringify(host)} at ${JSON.stringify(container)} in the tools container: only absolute paths without ',' are bound`, { hint: 'this is a bug in kvc: report it' });
    return ['--mount', `type=bind,src=${host},dst=${container}`];
  });
  return [
    'run', '--detach', '--rm', ...(runtime === 'podman' ? ['--replace'] : []), '--name', containerName, '--pull=never', '--log-driver=none', '--network=host',
    ...confined(runtime), ...apparmorArgs(apparmor), ...HOST_SYS, ...mounts,
    '--label', `${CONTAINER_LABEL.instance}=${instance}`, '--label', `${CONTAINER_LABEL.role}=tools`,
    image, 'sleep', 'infinity',
  ];
}

// A host folder bound in the tools container.
export interface StateMount {
  readonly host: string;
  readonly container: string;
}

// `exec` of a tool in the running tools container: it gets that container's confinement (no
// capabilities, no new privileges, seccomp, its cgroup); stdin kept open when asked, a TTY when
// the caller has one.
export function toolExecArgs(containerName: string, command: readonly string[], options: { tty: boolean; interactive: boolean }): string[] {
  return ['exec', ...(options.interactive ? ['--interactive'] : []), ...(options.tty ? ['--tty'] : []), containerName, ...command];
}

// A daemon of the image that serves the network from a container of its own (usbipd): the
// host's network, confined as above, /sys read-only except the host folders it must write (each
// bound read-write at its own path), no host /dev, its own cgroup. Attached: its output is the
// caller's to read, and stopping the runtime's client stops it (--rm removes it).
export interface DaemonSpec {
  readonly image: string;
  readonly containerName: string;
  readonly instance: string;
  // What it is, for the role label ("usbipd").
  readonly role: string;
  readonly command: readonly string[];
  readonly writable: readonly string[];
  // The AppArmor profile kvc loaded for the instance, when the host has AppArmor.
  readonly apparmor?: string | undefined;
}

// `run` arguments of a long-lived, confined container (usbipd's): no capabilities, read-only root, only the given /sys folders writable.
export function daemonRunArgs(runtime: RuntimeName, spec: DaemonSpec): string[] {
  const mounts = spec.writable.flatMap((path) => {
    if (!path.startsWith('/sys/') || /[,\n]/.test(path)) throw new KernelRefusedError(`cannot give ${JSON.stringify(path)} to ${spec.role}: only folders under /sys without a ',' are bound`, { hint: 'this is a bug in kvc: report it' });
    return ['--mount', `type=bind,src=${path},dst=${path}`];
  });
  return [
    'run', '--rm', ...(runtime === 'podman' ? ['--replace'] : []), '--name', spec.containerName, '--pull=never', '--log-driver=none', '--network=host',
    ...confined(runtime), ...apparmorArgs(spec.apparmor), ...mounts,
    '--label', `${CONTAINER_LABEL.instance}=${spec.instance}`, '--label', `${CONTAINER_LABEL.role}=${spec.role}`,
    spec.image, ...spec.command,
  ];
}

// `image inspect` of one or more images (JSON array on stdout).
export function imageInspectArgs(refs: readonly string[]): string[] {
  return ['image', 'inspect', ...refs];
}

// Full IDs of the named images that carry a label (build steps' unnamed images are left out).
export function imagesWithLabelArgs(label: string, value: string): string[] {
  return ['images', '--quiet', '--no-trunc', '--filter', 'dangling=false', '--filter', `label=${label}=${value}`];
}

// Full IDs of the unnamed leaf images that carry these labels (what a build's steps left).
export function danglingImagesArgs(labels: Readonly<Record<string, string>>): string[] {
  return ['images', '--quiet', '--no-trunc', '--filter', 'dangling=true', ...Object.entries(labels).flatMap(([label, value]) => ['--filter', `label=${label}=${value}`])];
}

// `history`: the step that made each layer, newest first, one a line.
export function historyArgs(ref: string): string[] {
  return ['history', '--no-trunc', '--format', '{{.CreatedBy}}', ref];
}

// `rmi` of these images only, leaving their other unnamed parents (another build may reuse
// them); a child before its parent, as podman removes them in the order given.
export function removeImagesOnlyArgs(ids: readonly string[]): string[] {
  return ['rmi', '--no-prune', ...ids];
}

// `tag`.
export function tagArgs(source: string, target: string): string[] {
  return ['tag', source, target];
}

// `rmi` of a name: removes only the name while another name still points at the image.
export function removeImageArgs(ref: string): string[] {
  return ['rmi', ref];
}

// `container inspect` (JSON array on stdout).
export function containerInspectArgs(name: string): string[] {
  return ['container', 'inspect', name];
}

// Removes a container at once (podman waits for the stop timeout unless told not to).
export function containerRemoveArgs(runtime: RuntimeName, name: string): string[] {
  return runtime === 'podman' ? ['rm', '--force', '--time=0', name] : ['rm', '--force', name];
}

// Every container podman knows, including the working containers of builds (buildah's).
export function allContainersArgs(runtime: RuntimeName): string[] {
  return runtime === 'podman' ? ['ps', '--all', '--external', '--quiet', '--no-trunc'] : ['ps', '--all', '--quiet', '--no-trunc'];
}

// The containers podman itself runs (without buildah's working containers).
export function podmanContainersArgs(): string[] {
  return ['ps', '--all', '--quiet', '--no-trunc'];
}

// Removes containers at once.
export function removeContainersArgs(ids: readonly string[]): string[] {
  return ['rm', '--force', ...ids];
}

// `push` of a local image to a registry under another name (podman: a docker:// destination;
// --tls-verify=false only when asked for, for a registry without TLS such as one on loopback).
// With `sign`, podman signs (kvc publish) with a sigstore key or a GPG key (its GnuPG home is the
// GNUPGHOME of the command, see pushEnv) and writes the pushed digest to a file.
export function pushArgs(runtime: RuntimeName, source: string, destination: string, options: PushOptions): string[] {
  if (runtime === 'docker') return ['push', destination];
  const sign = options.sign === undefined ? [] : [
    ...(options.sign.kind === 'gpg' ? ['--sign-by', options.sign.fingerprint] : ['--sign-by-sigstore-private-key', options.sign.privateKey]),
    ...(options.sign.passphraseFile === undefined ? [] : ['--sign-passphrase-file', options.sign.passphraseFile]), '--digestfile', options.sign.digestFile,
  ];
  return ['push', ...(options.tlsVerify ? [] : ['--tls-verify=false']), ...sign, source, `docker://${destination}`];
}

// How to push: TLS, and the key to sign with (podman only): sigstore, or GPG simple signing.
export interface PushOptions {
  readonly tlsVerify: boolean;
  readonly sign?: PushSigning;
}

// A signed push's key, passphrase file and digest file.
export type PushSigning =
  | { readonly kind: 'sigstore'; readonly privateKey: string; readonly passphraseFile: string; readonly digestFile: string }
  | { readonly kind: 'gpg'; readonly fingerprint: string; readonly gnupgHome: string; readonly passphraseFile?: string; readonly digestFile: string };

// The environment a push adds to the runtime's: GNUPGHOME for a GPG-signed push, nothing else.
export function pushEnv(options: PushOptions): Readonly<Record<string, string>> {
  return options.sign?.kind === 'gpg' ? { GNUPGHOME: options.sign.gnupgHome } : {};
}

// `pull` of an image from a registry, checked against a signature policy file (podman only: its
// trust policy refuses what the policy does not accept, before anything is stored).
export function pullArgs(image: string, options: { policyFile: string; tlsVerify: boolean }): string[] {
  return ['pull', '--quiet', '--signature-policy', options.policyFile, ...(options.tlsVerify ? [] : ['--tls-verify=false']), `docker://${image}`];
}
