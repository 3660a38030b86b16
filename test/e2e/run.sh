#!/usr/bin/env bash
# The end-to-end run, from the host: builds (or reuses) the guest, makes kvc's .deb (`make deb`),
# which the guest installs with `apt install ./kvc_….deb` as a user does (and purges at the end of
# boot 2), builds the USB/IP images for both of Debian 12's kernel series with kvc on the host's podman, hands them in with `podman save`, and boots the
# guest twice on one disk, as a user lives a kernel update:
#   1. kernel $KVER (6.1): every check; then the 6.12 kernel package is installed while
#      kvc@usbip runs, and kvc must find its image already there (no build);
#   2. the same disk booted into $UPDATE_KVER (6.12): kvc@usbip starts at boot without building,
#      the checks that depend on the kernel run again on it, then kvc on docker, a pod, the purge.
# MODE: test (default), demo (the same, narrated) or bench (the first boot's benchmark only).
#   test/e2e/run.sh [test|demo|bench] [console-log-prefix]
# Console logs: <prefix>-<kver>.log, one per boot.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-test}
prefix=${2:-/var/tmp/kvc-e2e-$mode}
export KVER=${KVER:-6.1.0-56-amd64}
UPDATE_KVER=${UPDATE_KVER:-6.12.117+deb12-amd64}
# An image's tag as kvc makes it (imageTagFor): a release with + or ~ gets a leading _ and _ + ~
# escaped as __ _p _t (6.12.117+deb12-amd64 → _6.12.117_pdeb12-amd64); any other is its own tag.
tag() { case $1 in *[+~]*) printf '_%s' "$(printf '%s' "$1" | sed 's/_/__/g; s/+/_p/g; s/~/_t/g')" ;; *) printf '%s' "$1" ;; esac; }
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
say() { printf '\n== %s\n' "$*"; }
ms() { date +%s%3N; }
work=$(mktemp -d /var/tmp/kvc-e2e-host.XXXXXX)
trap 'rm -rf "$work"' EXIT

t=$(ms)
say "the guest: Debian 12's kernel $KVER without its USB/IP modules, systemd, podman (cached)"
test/e2e/guest/build-guest.sh
say "the kernel update: Debian's package of $UPDATE_KVER without its USB/IP modules (cached)"
test/e2e/guest/build-guest.sh --update "$UPDATE_KVER"
echo "   guest and update ready in $((($(ms) - t) / 1000)) s"

say "make deb (kvc with its own Node: the guest has none); the guest installs it with apt"
t=$(ms)
make --no-print-directory -s deb >/dev/null
deb=$(ls dist/kvc_*_amd64.deb)
mkdir -p "$work/tree/var/lib/kvc-e2e"
cp "$deb" "$work/tree/var/lib/kvc-e2e/"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\.||' | sed 's/^/   /'
echo "   $deb: $(du -h "$deb" | cut -f1), made in $((($(ms) - t) / 1000)) s"
say "make sysext (the guest merges it after the purge)"
t=$(ms)
make --no-print-directory -s sysext >/dev/null
mkdir -p "$work/tree/var/lib/kvc-e2e/sysext"
cp -a dist/kvc-sysext "$work/tree/var/lib/kvc-e2e/sysext/kvc"
echo "   dist/kvc-sysext: $(du -sh dist/kvc-sysext | cut -f1), made in $((($(ms) - t) / 1000)) s"

mkdir -p "$work/config"
cp -r host/etc/kvc/. "$work/config/"
echo 'KVC_BUILD_NETWORK=host' >>"$work/config/kvc.conf"
# The images are built with the instance's own config (no KVC_BUILD_ARGS), as the integration
# tests build them, so that a run of make test finds them up to date here (kernel-series.test.js
# leaves the 6.12 one). KVC_BUILD_ARGS in a real kernel is the USB/IP pair client's check (16
# controllers of one port each). The guest edits the package's usbip.conf (a conffile) all the
# same, with a comment: the purge must take an edited conffile too.
echo '# edited by the end-to-end test' >"$work/tree/var/lib/kvc-e2e/usbip.conf.add"
images=()
for kver in "$KVER" "$UPDATE_KVER"; do
	say "kvc build usbip $kver on this host's podman"
	t=$(ms)
	node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" build usbip "$kver"
	podman save -q -o "$work/usbip-$kver.tar" "localhost/usbip-1.0.0:$(tag "$kver")"
	echo "   built (or found up to date) and saved in $((($(ms) - t) / 1000)) s: $(du -h "$work/usbip-$kver.tar" | cut -f1)"
	images+=(--image "$work/usbip-$kver.tar")
done

# Issue 21, both kernels as if they had no headers package: instance usbip-source (the header-less
# recipe, Containerfile.debian-source), its .conf written as test/integration/headerless.test.js
# writes it, so that the image that test built for $KVER is found up to date here (it keeps it);
# the second kernel's is built once and then found in podman's storage. And, for $KVER,
# usbip-badcrc: that image with one CRC changed, for the guest's negative test. One archive for
# the three (their common layers once); the guest loads it with the others.
hl=$work/tree/var/lib/kvc-e2e/headerless
mkdir -p "$hl"
sed -e 's/^KMOD_CONTAINER_BUILD_FILE=.*$/KMOD_CONTAINER_BUILD_FILE="Containerfile.debian-source"/' -e 's/^KVC_DEVICE_MANAGER=.*$//' \
	host/etc/kvc/usbip.conf >"$work/config/usbip-source.conf"
cp "$work/config/usbip-source.conf" test/e2e/guest/usbip-badcrc.conf "$hl/"
cp -r test/e2e/guest/usbip-badcrc "$work/config/"
cp -r test/e2e/guest/usbip-badcrc "$hl/"
cp test/e2e/guest/headerless-steps.sh "$hl/steps.sh"
cp test/e2e/guest/usbip-badcrc.conf "$work/config/"
# Issue 23: boot 1's WireGuard steps (kvc@usbip's tunnel), after the header-less ones.
cp test/e2e/guest/wireguard-steps.sh "$work/tree/var/lib/kvc-e2e/wireguard-steps.sh"
# Issue 22: boot 2's docker steps (kvc on docker.io), after the podman steps; they docker-load
# the $UPDATE_KVER archive above. The guest root has no docker (it would grow every guest): Debian's
# docker.io, containerd and tini are handed in (cached here), and the guest installs them with apt.
# Not in the demo (the guest skips them there).
if [ "$mode" != demo ]; then
	cp test/e2e/guest/docker-steps.sh "$work/tree/var/lib/kvc-e2e/docker-steps.sh"
	docker_debs=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}/docker-debs
	if [ "$(ls "$docker_debs"/*.deb 2>/dev/null | wc -l)" != 3 ]; then
		rm -rf "$docker_debs.new" && mkdir -p "$docker_debs.new"
		(cd "$docker_debs.new" && apt-get download -qq docker.io containerd tini)
		rm -rf "$docker_debs" && mv "$docker_debs.new" "$docker_debs"
	fi
	mkdir -p "$work/tree/var/lib/kvc-e2e/docker"
	cp "$docker_debs"/*.deb "$work/tree/var/lib/kvc-e2e/docker/"
fi
# Boot 1 is a host with AppArmor (Debian's and Ubuntu's default): the guest's kernel enforces it,
# and this package (its parser; not in the guest root, so that the other guests stay as they were)
# is installed before kvc. Without kvc's own profile, podman's default one denies every write
# under /sys and usbip bind fails (seen: "error unbinding device ... from driver"). Boot 2 runs
# with apparmor=0, a host without it (and the cluster step's pod, under the runtime's profile).
apparmor_deb=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}/apparmor.deb
[ -s "$apparmor_deb" ] || (cd "$work" && apt-get download -qq apparmor && mv apparmor_*.deb "$apparmor_deb")
cp "$apparmor_deb" "$work/tree/var/lib/kvc-e2e/apparmor.deb"
# The guest root has no xz-utils (debootstrap's minbase; Priority: standard): without it kvc reads
# none of 6.12's .ko.xz modules for its ABI check (and says so). The header-less steps install it
# from this package for their own check, and remove it again.
xz_deb=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}/xz-utils.deb
[ -s "$xz_deb" ] || (cd "$work" && apt-get download -qq xz-utils && mv xz-utils_*.deb "$xz_deb")
cp "$xz_deb" "$hl/xz-utils.deb"
headerless=()
for kver in "$KVER" "$UPDATE_KVER"; do
	say "kvc build usbip-source $kver (the header-less recipe) on this host's podman"
	t=$(ms)
	node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" build usbip-source "$kver"
	echo "   built (or found up to date) in $((($(ms) - t) / 1000)) s"
	headerless+=("localhost/usbip-source-1.0.0:$(tag "$kver")")
done
say "kvc build usbip-badcrc $KVER (one CRC of vhci-hcd.ko changed)"
t=$(ms)
node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" build usbip-badcrc "$KVER"
headerless+=("localhost/usbip-badcrc-1.0.0:$(tag "$KVER")")
podman save -q -m -o "$work/usbip-headerless.tar" "${headerless[@]}"
echo "   built (or found up to date) and saved with the usbip-source images in $((($(ms) - t) / 1000)) s: $(du -h "$work/usbip-headerless.tar" | cut -f1)"
images+=(--image "$work/usbip-headerless.tar")

# Each boot's deadline (KVC_E2E_TIMEOUT, s) only ends a stuck guest: generous, as boot 1 took
# 1027 s with a CPU hog beside it; the checks inside wait on their own events.
say "boot 1: kernel $KVER (QEMU, software emulation: this takes a few minutes)"
t=$(ms)
test/e2e/guest/run-guest.sh --kernel "$KVER" --disk "$work/disk.img" --kvc-tree "$work/tree" "${images[@]}" \
	--payload "${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}/$UPDATE_KVER/linux-image.deb" \
	--script test/e2e/guest/usbip-e2e.sh --mode "$mode" --log "$prefix-$KVER.log" --timeout "${KVC_E2E_TIMEOUT:-2400}"
echo "   boot 1 took $((($(ms) - t) / 1000)) s"
[ "$mode" = bench ] && exit 0

say "boot 2: the same disk, into the updated kernel $UPDATE_KVER"
t=$(ms)
test/e2e/guest/run-guest.sh --kernel "$UPDATE_KVER" --disk "$work/disk.img" --log "$prefix-$UPDATE_KVER.log" --append apparmor=0 \
	--timeout "${KVC_E2E_TIMEOUT:-2400}"
echo "   boot 2 took $((($(ms) - t) / 1000)) s"
