// Every configuration key kvc reads, with its documentation: kvc.conf(5) prints it, and the table
// of docs/configuration.md follows it.

// Keys of <config-dir>/kvc.conf (and of kmods-via-containers.conf, read first when present).
export const GLOBAL_KEYS = {
  KVC_CONTAINER_RUNTIME: 'Container runtime: podman (default) or docker. The --runtime option overrides it.',
  KVC_BUILD_NETWORK: 'Network mode for image builds (passed as --network=...), e.g. host; empty (default) leaves the runtime\'s default.',
  KVC_BUILD_RETRY_SECONDS: 'The service retries a failed background build after this many seconds (at least 1), doubling each time up to an hour (default 60).',
  KVC_KEEP_KERNELS: 'How many kernels\' images the service keeps per instance besides the running kernel\'s, the next boot\'s among them (default 3, as the bash KVC).',
  KVC_BUILD_ON_KERNEL_INSTALL: 'yes or no (default): whether kvc\'s kernel hook (/etc/kernel/postinst.d/kvc, installed by the .deb) builds the new kernel\'s image right away, with `kvc build`, for each instance whose service is enabled but not running (a running service is told with `systemctl reload` either way).',
  KVC_SIGN_KEY: 'Module signing: the private key (PEM file, absolute path, root-only) kvc signs built modules with, instead of its own key or DKMS\'s; set together with KVC_SIGN_CERT. A PKCS#11 URI is refused: the token cannot reach a container build.',
  KVC_SIGN_CERT: 'Module signing: the X.509 certificate (PEM or DER file, absolute path) of KVC_SIGN_KEY; the key mokutil enrols and the kernel must trust.',
  KVC_IMAGE_REPO: 'Many hosts: the registry and repository (host[:port]/path) kvc pulls REPO/<name>-<version>:<tag> from before building; an instance\'s own KVC_IMAGE_REPO wins. Needs KVC_IMAGE_VERIFY_KEY. Empty (default): kvc builds, as without a registry. See docs/many-hosts.md.',
  KVC_BUILD_FALLBACK: 'Many hosts: yes (default) builds locally when the pull from KVC_IMAGE_REPO fails or is refused; no never builds (nothing is loaded for that kernel until a verified image is published). An instance\'s own key wins.',
  KVC_IMAGE_VERIFY_KEY: 'Many hosts: the public key (absolute path) every image pulled from KVC_IMAGE_REPO must be signed with; podman checks it with a policy kvc writes for that repository only. Its form chooses the signature kind: an OpenPGP public key (gpg --export, armored or binary) means GPG simple signing, read from KVC_IMAGE_SIGNATURES; one PEM public key means sigstore, read from the registry.',
  KVC_IMAGE_SIGNATURES: 'Many hosts, GPG signatures only: where they are, as a URL. Nodes read them from file:///DIR (a shared mount) or http(s)://HOST/PATH (served from the builder); on the builder it must be file:///DIR, where `kvc publish` writes them. Unset with a sigstore key.',
  KVC_IMAGE_SIGN_KEY: 'Builder: what `kvc publish` signs pushed images with: a GPG key\'s fingerprint (40 hex digits, its secret key in KVC_IMAGE_SIGN_GNUPGHOME; podman push --sign-by), or the sigstore private key (encrypted, cosign format; absolute path, root-only).',
  KVC_IMAGE_SIGN_PASSPHRASE_FILE: 'Builder: a file (absolute path, root-only) holding the passphrase of KVC_IMAGE_SIGN_KEY; required for a sigstore key, optional for a GPG key without one.',
  KVC_IMAGE_SIGN_GNUPGHOME: 'Builder, GPG signing: the GnuPG home (absolute path, root-only) holding KVC_IMAGE_SIGN_KEY\'s secret key; passed to podman as GNUPGHOME.',
  KVC_IMAGE_TLS_VERIFY: 'Many hosts: no lets pulls and `kvc publish` talk to a registry without TLS (one on loopback or a private link you trust); default yes.',
} as const;

// Keys of <config-dir>/<name>.conf, compatible with kmods-via-containers instance files.
export const INSTANCE_KEYS = {
  KMOD_CONTAINER_BUILD_CONTEXT: 'Build context: a directory (relative paths resolve against the folder of the .conf file), or an https:// or git:// URL with an optional #ref (a git repository or tarball the runtime fetches; no credentials in the URL).',
  KMOD_CONTAINER_BUILD_FILE: 'Containerfile, relative to a local build context (or absolute); inside the repository for a URL context.',
  KMOD_SOFTWARE_VERSION: 'Version of the module software; part of the image name <name>-<version>:<kver>, checked against the modules\' own version field where they declare one.',
  KMOD_NAMES: 'Space-separated modules to load, in load order (unloaded in reverse).',
  KMOD_KERNEL_REQUIRES: 'kvc only, optional: space-separated kernel options (CONFIG_...) that must be y or m; a kernel whose config unsets one is refused before building.',
  KVC_BUILD_ARGS: 'kvc only, optional: space-separated NAME=VALUE build arguments passed to the Containerfile (--build-arg NAME=VALUE) beside KVER and KMODVER, which it may not set; a value is one word. An image built with other build args is rebuilt.',
  KVC_HOST_TOOLS: 'kvc only, optional: space-separated absolute paths of userspace tools in the image that get a host command of the same name (`kvc host-commands <name>` writes them), run in the tools container while the instance is loaded, else in a new container.',
  KVC_KUBE_TOOLS_ACCESS: 'kvc only, optional (`kvc kube daemonset`): what the pods\' tools container and the pre-unload hook get of the node: host-network, PATH:rw or PATH:ro (that node path, at the same path), PATH:scratch (a writable empty folder shared by the pod\'s containers); default none.',
  KVC_KUBE_KERNEL_REGEXP: 'kvc only, optional (`kvc kube module`): the kernels a build of this instance serves, as a regular expression (RE2, as KMM reads it); they get <repo>/<name>-<version>:${KERNEL_FULL_VERSION}. Releases with + or ~ never match a tag that way: leave them out.',
  KVC_TOOLS_SYSFS_WRITES: 'kvc only, optional: space-separated sysfs files the instance\'s tools and daemons write (/sys/… with * inside a name and ** for any depth, e.g. /sys/bus/usb/drivers/*/bind); on a host with AppArmor, kvc\'s profile for their containers (kvc-<name>) lets them write these and nothing else of /sys. Unset: all of /sys, as the bash KVC\'s privileged wrapper. See docs/security.md.',
  KVC_DEVICE_MANAGER: 'kvc only, optional: the device manager the service runs while the modules are loaded, from <name>.devices beside the .conf (usbip: exports and imports USB/IP devices; see kvc-devices(5)); default none.',
  KVC_SERVICE_UNPINNED: 'kvc only, optional: yes lets the service (kvc@<name>) build, with no person present, from a remote build context that is not pinned to a commit (a git:// or https:// URL without #<40-hex commit>): whoever controls the network path or the repository then decides what is loaded into the kernel. Default no: the service refuses such builds and says so; `kvc build` by a person still builds them.',
  KVC_IMAGE_REPO: 'kvc only, optional: this instance\'s registry repository (host[:port]/path), instead of kvc.conf\'s; see KVC_IMAGE_REPO there.',
  KVC_BUILD_FALLBACK: 'kvc only, optional: yes or no, this instance\'s choice instead of kvc.conf\'s; see KVC_BUILD_FALLBACK there.',
  KVC_KERNEL_SOURCE: 'kvc only, optional: the kernel source (a linux-*.tar.xz/.gz tarball or an unpacked folder; absolute path, owned by root and not writable by others) the header-less recipe builds from, as `kvc build --kernel-source` (which wins): for a kernel that is not the distribution\'s, so that the service can build it too. See docs/kernels-without-headers.md.',
  KVC_KERNEL_CONFIG: 'kvc only, optional: the kernel\'s exact .config (absolute path, trusted like KVC_KERNEL_SOURCE), used when the host has none of /proc/config.gz, /boot/config-<kver>, /lib/modules/<kver>/config, as `kvc build --kernel-config` (which wins).',
  KVC_KUBE_IN_TREE_REMOVE: 'kvc only, optional (`kvc kube`): in-tree modules the instance replaces, unloaded before its own are loaded (KMM\'s inTreeModulesToRemove).',
} as const;

// A key kvc.conf may hold.
export type GlobalKey = keyof typeof GLOBAL_KEYS;
// A key <name>.conf may hold.
export type InstanceKey = keyof typeof INSTANCE_KEYS;
