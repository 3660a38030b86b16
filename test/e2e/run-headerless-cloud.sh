#!/usr/bin/env bash
# Issue 21's guest proof for a cloud kernel built without headers, in ONE guest (no pair): Debian's
# 6.12 cloud kernel ($CLOUD_KVER, no USB at all: `# CONFIG_USB_SUPPORT is not set`), booted with no
# USB controller, as a cloud VM. On the host, kvc builds the image of instance usbip-source
# (host/etc/kvc/usbip/Containerfile.debian-source: linux-source-6.12 of the kernel's exact version,
# its /boot/config, CRCs from the kernel's modules and its vmlinux's exported-symbol tables, no
# linux-headers or linux-kbuild package); the guest installs kvc from its .deb, loads the image
# (podman save), and test/e2e/guest/headerless-cloud-e2e.sh starts kvc@usbip-source: kvc's ABI
# check passes, the kernel takes the image's USB core, USB/IP and storage modules without a
# complaint, vhci-hcd's ports are there for an attach, and the stop unloads them.
# What it does not do: a USB/IP round trip, which needs a device exported by a second machine (the
# cloud guest has no USB device of its own): the two-guest test (run-pair.sh) does that.
#   test/e2e/run-headerless-cloud.sh   (env: CLOUD_KVER, KVC_E2E_CACHE, KVC_E2E_LOG)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CLOUD_KVER=${CLOUD_KVER:-6.12.117+deb12-cloud-amd64}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
log=${KVC_E2E_LOG:-/var/tmp/kvc-e2e-headerless-cloud.log}
tag() { case $1 in *[+~]*) printf '_%s' "$(printf '%s' "$1" | sed 's/_/__/g; s/+/_p/g; s/~/_t/g')" ;; *) printf '%s' "$1" ;; esac; }
say() { printf '\n== %s\n' "$*"; }
ms() { date +%s%3N; }
work=$(mktemp -d /var/tmp/kvc-e2e-hlcloud.XXXXXX)
trap 'rm -rf "$work"' EXIT

t=$(ms)
say "the guest: Debian 12 with the cloud kernel $CLOUD_KVER, systemd, podman (cached)"
KVER=$CLOUD_KVER test/e2e/guest/build-guest.sh
echo "   ready in $((($(ms) - t) / 1000)) s"

say "make deb (the guest installs kvc with apt)"
make --no-print-directory -s deb >/dev/null
mkdir -p "$work/tree/var/lib/kvc-e2e/headerless"
cp dist/kvc_*_amd64.deb "$work/tree/var/lib/kvc-e2e/"

mkdir -p "$work/config"
cp -r host/etc/kvc/. "$work/config/"
echo 'KVC_BUILD_NETWORK=host' >>"$work/config/kvc.conf"
sed -e 's/^KMOD_CONTAINER_BUILD_FILE=.*$/KMOD_CONTAINER_BUILD_FILE="Containerfile.debian-source"/' -e 's/^KVC_DEVICE_MANAGER=.*$//' \
	host/etc/kvc/usbip.conf >"$work/config/usbip-source.conf"
cp "$work/config/usbip-source.conf" "$work/tree/var/lib/kvc-e2e/headerless/"
# kvc's ABI check reads the kernel's .ko.xz modules with xz, which the guest root lacks.
xz_deb=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}/xz-utils.deb
[ -s "$xz_deb" ] || (cd "$work" && apt-get download -qq xz-utils && mv xz-utils_*.deb "$xz_deb")
cp "$xz_deb" "$work/tree/var/lib/kvc-e2e/headerless/xz-utils.deb"

say "kvc build usbip-source $CLOUD_KVER (the header-less recipe) on this host's podman"
t=$(ms)
node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" build usbip-source "$CLOUD_KVER"
podman save -q -o "$work/usbip-source.tar" "localhost/usbip-source-1.0.0:$(tag "$CLOUD_KVER")"
echo "   built (or found up to date) and saved in $((($(ms) - t) / 1000)) s: $(du -h "$work/usbip-source.tar" | cut -f1)"

say "boot $CLOUD_KVER with no USB controller; console: $log"
t=$(ms)
test/e2e/guest/run-guest.sh --kernel "$CLOUD_KVER" --no-usb --log "$log" --timeout 1500 \
	--kvc-tree "$work/tree" --image "$work/usbip-source.tar" --script test/e2e/guest/headerless-cloud-e2e.sh
echo "   guest run: $((($(ms) - t) / 1000)) s"
