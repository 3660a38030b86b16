// What the service should do about kernels and images: a pure plan from what should exist (the
// running kernel, the installed ones, rpm-ostree's staged one) and what does (the instance's
// images), tested on data. The reconciler carries it out.

// A kernel's image as the runtime lists it (by its labels).
import { buildMismatch } from '../config/build-args.js';
import { signerMismatch, type Signer } from '../signing/signer.js';
// A kernel's image as the runtime lists it (read from its labels by images/labels.ts).
export interface ImageOfKernel {
  readonly kver: string;
  // The instance's KMOD_SOFTWARE_VERSION the image was built with.
  readonly version: string;
  // What it was built from besides kernel and version: its canonical KVC_BUILD_ARGS and recipe
  // digest, as build-args.ts's identityFromLabels reads its labels; missing: none.
  readonly buildArgs?: string;
  // Its io.kvc.signer label (signer.ts); missing or empty: unsigned.
  readonly signer?: string;
  // What removes it: its name, or its ID when it has none.
  readonly ref: string;
}

// What should exist.
export interface Desired {
  readonly running: string;
  // Kernels whose module trees are complete under /lib/modules or /usr/lib/modules.
  readonly installed: readonly string[];
  // The kernel of rpm-ostree's staged deployment, if any.
  readonly staged?: string | undefined;
  // The kernel the boot files name (boot-default.ts: GRUB, systemd-boot, BLS, the vmlinuz links), if any.
  readonly bootDefault?: string | undefined;
  readonly version: string;
  // What the instance's images must be built from (build-args.ts's wantedIdentity: KVC_BUILD_ARGS
  // and the recipe digest; default none): an image built from anything else is rebuilt.
  readonly buildArgs?: string;
  // The key kvc signs with now (undefined: none): an image signed otherwise, or unsigned, is rebuilt.
  readonly signer?: Signer | undefined;
  // KVC_KEEP_KERNELS: images kept besides the running kernel's and the next boot's.
  readonly keep: number;
}

// What the reconciler remembers between passes.
export interface Memory {
  // Kernels that cannot take the modules (no CONFIG_USB…), with the reason: not retried.
  readonly refused: ReadonlyMap<string, string>;
  // Failed builds: not retried before retryAt (ms since the epoch).
  readonly retryAt: ReadonlyMap<string, number>;
  // Kernels the watcher saw go since the service started: their images are pruned at once.
  readonly removed?: ReadonlySet<string>;
}

// What happens to one kernel.
export type KernelAction =
  | 'ready' // its image is there
  | 'build' // wanted, no image: build it
  | 'wait' // wanted, its last build failed: retried later
  | 'refused' // wanted, but it cannot take the modules
  | 'prune' // not wanted (removed, or older than the newest KVC_KEEP_KERNELS): its images go
  | 'skip'; // installed but older than the newest KVC_KEEP_KERNELS: not built

// What the plan does about one kernel, and the facts it decided on.
export interface KernelPlan {
  readonly kver: string;
  readonly action: KernelAction;
  readonly running: boolean;
  readonly nextBoot: boolean;
  readonly installed: boolean;
}

// The whole plan: each kernel's action, the images to prune, the next boot's kernel.
export interface Plan {
  // The kernel that boots next: rpm-ostree's staged one, else the installed one the boot files
  // name, else the newest installed (what GRUB and systemd-boot pick by default).
  readonly nextBoot: string;
  // Kernels to build, in order: the next boot's first, then the running one, then newest first.
  readonly build: readonly string[];
  // Image refs to remove: every image of a kernel not wanted, and images of an older
  // KMOD_SOFTWARE_VERSION once the current version's image of that kernel exists.
  readonly prune: readonly string[];
  // Every kernel known (installed, running, staged or with an image), newest first.
  readonly kernels: readonly KernelPlan[];
  // When the next failed build is due again (ms since the epoch), if any is waiting.
  readonly nextRetryAt: number | undefined;
}

// Newest first, by version numbers (6.12 after 6.1, -56 after -9).
export function newestFirst(a: string, b: string): number {
  return b.localeCompare(a, undefined, { numeric: true });
}

// Why an image of the instance's version is out of date (its build args or recipe, its signer), if it is.
export function staleness(image: ImageOfKernel, desired: Pick<Desired, 'buildArgs' | 'signer'>): string | undefined {
  return buildMismatch(image.buildArgs, desired.buildArgs ?? '') ?? signerMismatch(image.signer, desired.signer);
}

// The plan. `now` is ms since the epoch.
export function plan(desired: Desired, images: readonly ImageOfKernel[], memory: Memory, now: number): Plan {
  const installed = [...new Set(desired.installed)].sort(newestFirst);
  const removed = memory.removed ?? new Set<string>();
  const named = desired.bootDefault !== undefined && (installed.includes(desired.bootDefault) || desired.bootDefault === desired.running) ? desired.bootDefault : undefined;
  const nextBoot = desired.staged ?? named ?? [...installed, desired.running].sort(newestFirst)[0] ?? desired.running;
  // Besides the running kernel and the next boot's, the newest KVC_KEEP_KERNELS of the others
  // that are installed or have an image (one built for a kernel not installed here is kept as
  // the bash KVC kept it), except those seen removed.
  const others = [...new Set([...installed, ...images.map((image) => image.kver)])]
    .filter((kver) => kver !== desired.running && kver !== nextBoot && !removed.has(kver))
    .sort(newestFirst);
  const kept = new Set(others.slice(0, Math.max(0, desired.keep - (nextBoot === desired.running ? 0 : 1))));
  const wanted = new Set([desired.running, nextBoot, ...kept]);

  // Images of the instance's version, built from what it builds from now (build-args.ts's one
  // staleness rule, as kvc build and kvc status apply it) and signed by the key kvc signs with now
  // (signer.ts's rule, as kvc build applies it); any other is built again.
  const current = new Set(images.filter((image) => image.version === desired.version && staleness(image, desired) === undefined).map((image) => image.kver));
  const known = [...new Set([...wanted, ...installed, ...images.map((image) => image.kver)])].sort(newestFirst);
  const kernels = known.map((kver): KernelPlan => {
    const base = { kver, running: kver === desired.running, nextBoot: kver === nextBoot, installed: installed.includes(kver) };
    if (!wanted.has(kver)) return { ...base, action: current.has(kver) || images.some((image) => image.kver === kver) ? 'prune' : 'skip' };
    if (current.has(kver)) return { ...base, action: 'ready' };
    // Only kernels that are here (or run, or are staged) are built for.
    if (!base.installed && !base.running && !base.nextBoot) return { ...base, action: 'skip' };
    if (memory.refused.has(kver)) return { ...base, action: 'refused' };
    if ((memory.retryAt.get(kver) ?? 0) > now) return { ...base, action: 'wait' };
    return { ...base, action: 'build' };
  });

  const order = (kver: string): number => (kver === nextBoot ? 0 : kver === desired.running ? 1 : 2);
  const build = kernels.filter((kernel) => kernel.action === 'build').map((kernel) => kernel.kver)
    .sort((a, b) => order(a) - order(b) || newestFirst(a, b));
  const prune = images
    .filter((image) => !wanted.has(image.kver) || (image.version !== desired.version && current.has(image.kver)))
    .map((image) => image.ref);
  const waits = kernels.filter((kernel) => kernel.action === 'wait').map((kernel) => memory.retryAt.get(kernel.kver) ?? now);
  return { nextBoot, build, prune: [...new Set(prune)], kernels, nextRetryAt: waits.length === 0 ? undefined : Math.min(...waits) };
}
