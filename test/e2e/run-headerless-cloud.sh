#!/usr/bin/env bash
# Issue 21's guest proof for a cloud kernel built without headers: the USB/IP round trip on Debian's
# 6.12 cloud kernel ($CLOUD_KVER, no USB at all: `# CONFIG_USB_SUPPORT is not set`), booted with no
# USB controller, as a cloud VM, with the image of instance usbip-source that kvc builds by the
# header-less recipe (host/etc/kvc/usbip/Containerfile.debian-source: linux-source-6.12 of the
# kernel's exact version, its /boot/config, CRCs from the kernel's modules and its vmlinux's
# exported-symbol tables, no linux-headers or linux-kbuild package). Two QEMU guests on a private
# link (QEMU's socket netdev on the host's loopback, as in run-pair.sh):
#   server: Debian's generic kernel $KVER with its own usbip-host, Debian's usbip package, an
#           emulated USB disk of known content bound and served by usbipd; no kvc
#           (test/e2e/guest/usbip-server-debian.sh);
#   client: the cloud kernel; kvc installed from its .deb, the image loaded (podman save), and
#           kvc@usbip-source with a devices file importing the server's disk
#           (test/e2e/guest/headerless-cloud-e2e.sh): kvc's ABI check passes, the kernel takes the
#           USB core, USB/IP and storage modules without a complaint, the service brings up its
#           WireGuard tunnel to the server and attaches the disk through it by itself (issue 23's
#           importing side), its data reads back with its sha256, and the stop detaches, unloads
#           and takes the tunnel down.
# The image is the one test/integration/headerless-cloud.test.js leaves in this host's podman
# (`kvc build` finds it up to date); built here (about 5 minutes) only when it is not there.
#   test/e2e/run-headerless-cloud.sh [console-log-prefix]   (env: CLOUD_KVER, KVER, KVC_E2E_CACHE)
# Console logs: <prefix>-server.log, <prefix>-client.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
export KVER=${KVER:-6.1.0-56-amd64}
export CLOUD_KVER=${CLOUD_KVER:-6.12.117+deb12-cloud-amd64}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
prefix=${1:-/var/tmp/kvc-e2e-headerless-cloud}
e2e_cache=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}
tag() { case $1 in *[+~]*) printf '_%s' "$(printf '%s' "$1" | sed 's/_/__/g; s/+/_p/g; s/~/_t/g')" ;; *) printf '%s' "$1" ;; esac; }
say() { printf '\n== %s\n' "$*"; }
ms() { date +%s%3N; }
work=$(mktemp -d /var/tmp/kvc-e2e-hlcloud.XXXXXX)
pids=()
trap '((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
rm -f "$prefix-server.log" "$prefix-client.log"

t=$(ms)
say "the guests: $KVER (server) and the cloud kernel $CLOUD_KVER (client), systemd, podman (cached)"
test/e2e/guest/build-guest.sh
KVER=$CLOUD_KVER test/e2e/guest/build-guest.sh
echo "   ready in $((($(ms) - t) / 1000)) s"

say "make deb (the client installs kvc with apt)"
make --no-print-directory -s deb >/dev/null
hl=$work/tree/var/lib/kvc-e2e/headerless
mkdir -p "$hl" "$work/server-tree"
cp dist/kvc_*_amd64.deb "$work/tree/var/lib/kvc-e2e/"

mkdir -p "$work/config"
cp -r host/etc/kvc/. "$work/config/"
echo 'KVC_BUILD_NETWORK=host' >>"$work/config/kvc.conf"
sed -e 's/^KMOD_CONTAINER_BUILD_FILE=.*$/KMOD_CONTAINER_BUILD_FILE="Containerfile.debian-source"/' \
	host/etc/kvc/usbip.conf >"$work/config/usbip-source.conf"
cp "$work/config/usbip-source.conf" "$hl/"
# The client imports the server's disk by VID:PID (kvc-devices(5)); the device manager of
# kvc@usbip-source attaches it once the server exports it. No serial: that needs kvc's device list
# (TCP 3241), which a plain usbipd does not serve (list-port = 0: do not ask for it).
# Issue 23, the importing side of the tunnel: the import goes through WireGuard, the client's
# kvcwg brought up by kvc@usbip-source from [tunnel] and the peer `kvc usbip peer add` names (the
# server's key, its tunnel address 10.232.0.1, its endpoint on the link); the server, a plain
# Debian host, makes its wg0 by hand. The keys are made here (wg genkey): the server's private key
# is handed to the server, the client's goes where kvc keeps this host's key (as kvc's own first
# `peer add` would make it), so each side knows the other's public key before the boot.
printf '%s\n' '[tunnel]' 'address = 10.232.0.2/24' '' '[import.disk]' 'server = 10.232.0.1' 'device = 46f4:0001' 'list-port = 0' >"$hl/usbip-source.devices"
wg_dir=$work/tree/var/lib/kvc/usbip/wireguard
install -d -m 700 "$wg_dir" "$work/wg"
(umask 077; wg genkey >"$wg_dir/private.key"; wg genkey >"$work/wg/wg-server.key")
wg pubkey <"$wg_dir/private.key" >"$hl/wg-client.pub"
wg pubkey <"$work/wg/wg-server.key" >"$hl/wg-server.pub"
cp "$hl/wg-client.pub" "$work/wg/wg-client.pub"
# kvc's ABI check reads the kernel's .ko.xz modules with xz, which the guest root lacks.
xz_deb=$e2e_cache/xz-utils.deb
[ -s "$xz_deb" ] || (cd "$work" && apt-get download -qq xz-utils && mv xz-utils_*.deb "$xz_deb")
cp "$xz_deb" "$hl/xz-utils.deb"

say "kvc build usbip-source $CLOUD_KVER (the header-less recipe) on this host's podman"
t=$(ms)
node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" build usbip-source "$CLOUD_KVER"
podman save -q -o "$work/usbip-source.tar" "localhost/usbip-source-1.0.0:$(tag "$CLOUD_KVER")"
echo "   built (or found up to date) and saved in $((($(ms) - t) / 1000)) s: $(du -h "$work/usbip-source.tar" | cut -f1)"

# The server's disk: 8 MiB of random content; the client gets its checksum.
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/disk.img"
sha256sum <"$work/disk.img" | cut -d' ' -f1 >"$hl/disk.sha256"
# The server's payload: Debian's usbip and what it needs beyond the guest root, and usbip-core.ko
# and usbip-host.ko of Debian's linux-image-$KVER (kept in the cache: that package is 68 MB).
server=$e2e_cache/usbip-server-$KVER
if [ ! -s "$server/usbip-host.ko" ]; then
	say "the server's usbip package and modules, from Debian (once)"
	rm -rf "$server.tmp" && mkdir -p "$server.tmp/pkg"
	(cd "$server.tmp" && apt-get download -qq usbip usb.ids libwrap0 libnsl2 "linux-image-$KVER" 2>/dev/null)
	dpkg-deb -x "$server.tmp"/linux-image-*.deb "$server.tmp/pkg"
	find "$server.tmp/pkg" \( -name usbip-core.ko -o -name usbip-host.ko \) -exec cp {} "$server.tmp/" \;
	rm -rf "$server.tmp/pkg" "$server.tmp"/linux-image-*.deb
	[ -s "$server.tmp/usbip-host.ko" ] || { echo "no usbip-host.ko in linux-image-$KVER" >&2; exit 1; }
	rm -rf "$server" && mv "$server.tmp" "$server"
fi
server_payload=()
for file in "$server"/* "$work/wg/wg-server.key" "$work/wg/wg-client.pub"; do server_payload+=(--payload "$file"); done
# A free port on the host's loopback for the guests' link.
listening() { ss -Hltn "sport = :$port" | grep -q .; }
port=$((20000 + RANDOM % 20000))
while listening; do port=$((20000 + RANDOM % 20000)); done

say "booting the server ($KVER, the disk) and the client ($CLOUD_KVER, no USB controller), linked on 127.0.0.1:$port"
t=$(ms)
KVC_E2E_TAG='server ' test/e2e/guest/run-guest.sh --kernel "$KVER" --usb-disk "disk,KVC-HL-DISK,$work/disk.img" \
	--kvc-tree "$work/server-tree" "${server_payload[@]}" --net "listen=127.0.0.1:$port" \
	--script test/e2e/guest/usbip-server-debian.sh --log "$prefix-server.log" --timeout 2400 &
pids+=($!)
# The client's QEMU connects to the server's: start it once the server's listens.
n=0; until listening || [ $n -gt 600 ]; do n=$((n + 1)); sleep 0.5; done
KVC_E2E_TAG='client ' test/e2e/guest/run-guest.sh --kernel "$CLOUD_KVER" --no-usb --net "connect=127.0.0.1:$port" \
	--kvc-tree "$work/tree" --image "$work/usbip-source.tar" --script test/e2e/guest/headerless-cloud-e2e.sh \
	--log "$prefix-client.log" --timeout 2400 &
pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
pids=()
echo "   both guests done in $((($(ms) - t) / 1000)) s"
exit "$status"
