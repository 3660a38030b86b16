#!/usr/bin/env bash
# The cloud-kernel end-to-end run, from the host, as USB/IP is deployed: a client with no USB at
# all imports a disk from a server that has one, over a private link between two QEMU guests.
#   server: Debian's generic kernel $KVER, an emulated USB disk, kvc@usbip, usbipd, the disk bound;
#   client: Debian's cloud kernel $CLOUD_KVER (CONFIG_USB_SUPPORT unset), no USB controller, kvc
#           installed by `make install`, its image (with the USB core kvc builds) handed in.
# The guests' link is QEMU's socket netdev on the host's loopback; they have no other network.
# Then the client boots once more with module.sig_enforce=1, where kvc must refuse first.
#   test/e2e/run-pair.sh [test|demo] [console-log-prefix]
# Console logs: <prefix>-server.log, <prefix>-client.log, <prefix>-client-sig-enforce.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-test}
prefix=${2:-/var/tmp/kvc-e2e-pair-$mode}
export KVER=${KVER:-6.1.0-56-amd64}
CLOUD_KVER=${CLOUD_KVER:-6.1.0-56-cloud-amd64}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
say() { printf '\n== %s\n' "$*"; }
ms() { date +%s%3N; }
work=$(mktemp -d /var/tmp/kvc-e2e-pair.XXXXXX)
pids=()
trap '((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

t=$(ms)
say "the guests: $KVER (server) and $CLOUD_KVER (client), systemd, podman (cached)"
test/e2e/guest/build-guest.sh
KVER=$CLOUD_KVER test/e2e/guest/build-guest.sh
echo "   guests ready in $((($(ms) - t) / 1000)) s"

make --no-print-directory -s install DESTDIR="$work/tree" PREFIX=/usr/local
mkdir -p "$work/config"
cp -r host/etc/kvc/. "$work/config/"
echo 'KVC_BUILD_NETWORK=host' >>"$work/config/kvc.conf"
for kver in "$KVER" "$CLOUD_KVER"; do
	say "kvc build usbip $kver on this host's podman"
	t=$(ms)
	node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" build usbip "$kver"
	podman save -q -o "$work/usbip-$kver.tar" "localhost/usbip-1.0.0:$kver"
	echo "   built (or found up to date) and saved in $((($(ms) - t) / 1000)) s: $(du -h "$work/usbip-$kver.tar" | cut -f1)"
done

# The server's USB disk, and its checksum for the client to compare with what it reads.
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/stick.img"
sha256sum <"$work/stick.img" | cut -d' ' -f1 >"$work/stick.sha256"
# Each guest's role, as a payload file named "role".
mkdir -p "$work/role-server" "$work/role-client"
echo server >"$work/role-server/role"
echo client >"$work/role-client/role"
# A free port on the host's loopback for the guests' link.
listening() { ss -Hltn "sport = :$port" | grep -q .; }
port=$((20000 + RANDOM % 20000))
while listening; do port=$((20000 + RANDOM % 20000)); done

say "booting the server and the client (two QEMU guests under TCG, linked on 127.0.0.1:$port)"
t=$(ms)
KVC_E2E_TAG='server ' test/e2e/guest/run-guest.sh --kernel "$KVER" --disk "$work/server.img" --stick "$work/stick.img" \
	--kvc-tree "$work/tree" --image "$work/usbip-$KVER.tar" --payload "$work/role-server/role" \
	--net "listen=127.0.0.1:$port" --script test/e2e/guest/usbip-pair-e2e.sh --mode "$mode" \
	--log "$prefix-server.log" --timeout "${KVC_E2E_TIMEOUT:-1800}" &
pids+=($!)
# The client's QEMU connects to the server's: start it once the server's listens.
n=0; until listening || [ $n -gt 600 ]; do n=$((n + 1)); sleep 0.5; done
KVC_E2E_TAG='client ' test/e2e/guest/run-guest.sh --kernel "$CLOUD_KVER" --disk "$work/client.img" --no-usb \
	--kvc-tree "$work/tree" --image "$work/usbip-$CLOUD_KVER.tar" --payload "$work/role-client/role" --payload "$work/stick.sha256" \
	--net "connect=127.0.0.1:$port" --script test/e2e/guest/usbip-pair-e2e.sh --mode "$mode" \
	--log "$prefix-client.log" --timeout "${KVC_E2E_TIMEOUT:-1800}" &
pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
pids=()
echo "   both guests done in $((($(ms) - t) / 1000)) s"

say "the client again, booted with module.sig_enforce=1"
t=$(ms)
KVC_E2E_TAG='client ' test/e2e/guest/run-guest.sh --kernel "$CLOUD_KVER" --disk "$work/client.img" --no-usb \
	--append module.sig_enforce=1 --log "$prefix-client-sig-enforce.log" --timeout "${KVC_E2E_TIMEOUT:-1800}" || status=1
echo "   done in $((($(ms) - t) / 1000)) s"
exit "$status"
