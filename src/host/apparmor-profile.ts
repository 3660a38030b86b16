// The AppArmor profile kvc gives the containers that run an instance's tools and daemons (the
// tools container, a tool's own container, the pre-unload hook, usbipd). The runtimes' default
// profiles (podman's containers-default, docker's docker-default) deny every write under /sys but
// /sys/fs/cgroup, so on a host with AppArmor the tools could neither bind a device nor attach one.
// This profile is the other way round: nothing may be written but the container's own scratch
// (/dev, /tmp, /run, /var/tmp) and the sysfs files the instance declares (KVC_TOOLS_SYSFS_WRITES);
// no capability, no mount, no ptrace (AppArmor denies what a profile does not list).

// What a sysfs write pattern may be: /sys/ then components of letters, digits, . _ : @ + - with *
// inside a component (any run of those characters) or ** as a whole component (any depth).
const COMPONENT = /^(?:\*\*|[A-Za-z0-9._:@+*-]+)$/;

// Whether a KVC_TOOLS_SYSFS_WRITES entry is a pattern kvc renders (see COMPONENT).
export function isSysfsWritePattern(pattern: string): boolean {
  if (!pattern.startsWith('/sys/')) return false;
  const parts = pattern.slice('/sys/'.length).split('/');
  return parts.length > 0 && parts.every((part) => part !== '.' && part !== '..' && COMPONENT.test(part) && (part === '**' || !part.includes('**')));
}

// The profile's name for an instance (an instance name is [a-z0-9_-]).
export function toolsProfileName(instance: string): string {
  return `kvc-${instance}`;
}

// The profile's text. sysfsWrites undefined: the instance declares nothing, and its tools may
// write anywhere in /sys, as the bash KVC's privileged wrapper could.
export function renderToolsProfile(instance: string, sysfsWrites: readonly string[] | undefined): string {
  const name = toolsProfileName(instance);
  for (const pattern of sysfsWrites ?? []) {
    if (!isSysfsWritePattern(pattern)) throw new Error(`not a sysfs write pattern: ${JSON.stringify(pattern)}`);
  }
  const writes = sysfsWrites === undefined ? ['/sys/** w,'] : sysfsWrites.map((pattern) => `${pattern} w,`);
  return [
    `# kvc's profile for the containers that run ${instance}'s tools (written by kvc at each load; edits are lost).`,
    `profile ${name} flags=(attach_disconnected,mediate_deleted) {`,
    '  network,',
    '  unix,',
    // The runtime stops the container (unconfined, or under AppArmor 4's own runc, crun and
    // podman profiles); its processes signal each other.
    '  signal (receive) peer=unconfined,',
    '  signal (receive) peer={/usr/bin/,/usr/sbin/,}runc,',
    '  signal (receive) peer={/usr/bin/,/usr/sbin/,}crun,',
    '  signal (receive) set=(int, quit, kill, term) peer={/usr/bin/,/usr/sbin/,}podman,',
    `  signal (send,receive) peer=${name},`,
    // Everything may be read and run (the image's root is mounted read-only)...
    '  /** rmix,',
    // ...and written only in the container's own scratch folders.
    '  /dev/** rwk,',
    '  /tmp/** rwlk,',
    '  /run/** rwlk,',
    '  /var/tmp/** rwlk,',
    // Nothing written there may be run or mapped executable.
    '  deny /{tmp,var/tmp,run,dev/shm}/** mx,',
    `  # the sysfs files ${instance}'s tools write (KVC_TOOLS_SYSFS_WRITES)`,
    ...writes.map((line) => `  ${line}`),
    // Never written, whatever the instance lists: the host's cgroups, power state, debug and
    // trace file systems; nor read: what a reader could learn of the host beyond its devices.
    '  deny /sys/fs/cgroup/** wkl,',
    '  deny /sys/power/** w,',
    '  deny /sys/kernel/{debug,tracing,config}/** rwklx,',
    '  deny /sys/devices/virtual/powercap/** rwklx,',
    '  deny /sys/firmware/** rwklx,',
    '  deny /sys/kernel/security/** rwklx,',
    '  deny /proc/kcore rwklx,',
    '}',
    '',
  ].join('\n');
}
