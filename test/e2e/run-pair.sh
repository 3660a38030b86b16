#!/usr/bin/env bash
# The cloud-kernel end-to-end run, from the host, as USB/IP is deployed: a client with no USB at
# all imports a disk from a server that has one, over a private link between two QEMU guests.
#   server: Debian's generic kernel $KVER, an emulated USB disk, kvc@usbip, usbipd, the disk bound;
#   client: Debian's cloud kernel $CLOUD_KVER (CONFIG_USB_SUPPORT unset), no USB controller, kvc
#           installed by `make install`, its image (with the USB core kvc builds) pulled from the
#           server, which is also the builder of a fleet (issue 22: a registry, kvc publish, a key).
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
# The fleet's node installs this kernel while kvc@usbip runs, and must pull its image before a reboot.
CLOUD_UPDATE_KVER=${CLOUD_UPDATE_KVER:-6.12.117+deb12-cloud-amd64}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
say() { printf '\n== %s\n' "$*"; }
ms() { date +%s%3N; }
work=$(mktemp -d /var/tmp/kvc-e2e-pair.XXXXXX)
pids=()
trap '((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

rm -f "$prefix-server.log" "$prefix-client.log" "$prefix-client-sig-enforce.log" "$prefix-replug-ms"
t=$(ms)
say "the guests: $KVER (server) and $CLOUD_KVER (client), systemd, podman (cached)"
test/e2e/guest/build-guest.sh
KVER=$CLOUD_KVER test/e2e/guest/build-guest.sh
echo "   guests ready in $((($(ms) - t) / 1000)) s"

make --no-print-directory -s install DESTDIR="$work/tree" PREFIX=/usr/local
# The client's vhci-hcd is built with 16 controllers of one port per hub (32 ports), so that its
# second disk must land on a controller other than the first: its own tree and config say so.
# test/integration/kmm-layout.test.js builds the cloud images with the same args (built once a run).
CLIENT_BUILD_ARGS='KVC_BUILD_ARGS="USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=1"'
cp -a "$work/tree" "$work/tree-client"
echo "$CLIENT_BUILD_ARGS" >>"$work/tree-client/etc/kvc/usbip.conf"
for role in server client; do
	mkdir -p "$work/config-$role"
	cp -r host/etc/kvc/. "$work/config-$role/"
	echo 'KVC_BUILD_NETWORK=host' >>"$work/config-$role/kvc.conf"
done
echo "$CLIENT_BUILD_ARGS" >>"$work/config-client/usbip.conf"
for kver in "$KVER" "$CLOUD_KVER"; do
	role=server; [ "$kver" = "$KVER" ] || role=client
	say "kvc build usbip $kver on this host's podman (the $role's)"
	t=$(ms)
	node_modules/.bin/node lib/cli/main.js --config-dir "$work/config-$role" build usbip "$kver"
	podman save -q -o "$work/usbip-$kver.tar" "localhost/usbip-1.0.0:$kver"
	echo "   built (or found up to date) and saved in $((($(ms) - t) / 1000)) s: $(du -h "$work/usbip-$kver.tar" | cut -f1)"
done

# The server's two USB disks: one VID:PID (QEMU's 46f4:0001), told apart only by their serial
# numbers, each of its own random content; the client gets their checksums to tell which it reads.
for disk in a b; do
	head -c $((32 * 1024 * 1024)) /dev/urandom >"$work/disk-$disk.img"
	sha256sum <"$work/disk-$disk.img" | cut -d' ' -f1 >"$work/disk-$disk.sha256"
done
# Each guest's role, as a payload file named "role", and its devices file (/etc/kvc/usbip.devices).
mkdir -p "$work/role-server" "$work/role-client"
echo server >"$work/role-server/role"
echo client >"$work/role-client/role"
# The server exports the two disks by VID:PID and serial, to the client guest only, and serves
# its device list on the link; its keyboard is named nowhere.
cat >"$work/role-server/server.devices" <<'EOF'
[export.disk-a]
device = 46f4:0001
serial = KVC-DISK-A
clients = 10.77.0.2

[export.disk-b]
device = 46f4:0001
serial = KVC-DISK-B
clients = 10.77.0.2

[server]
listen = 10.77.0.1
EOF
# The client imports disk A for its container ctr-a and disk B for ctr-b, each by serial, and
# names "any QEMU disk" too, which matches both.
cat >"$work/role-client/client.devices" <<'EOF'
[import.disk-a]
server = 10.77.0.1
device = 46f4:0001
serial = KVC-DISK-A
container = ctr-a

[import.disk-b]
server = 10.77.0.1
device = 46f4:0001
serial = KVC-DISK-B
container = ctr-b

[import.any-disk]
server = 10.77.0.1
device = 46f4:0001
EOF
# Issue 22, a fleet on the link: the server is the builder, the client a node. The server runs
# Debian's docker-registry (its .deb handed in: the guests have no mirror) and holds a GPG signing
# key made here; it runs the real `kvc publish` for two kernels, the client's and its own. A TCG
# guest cannot compile in reasonable time and has no mirror, so it is handed the images this host
# built (podman load of the archives) and `kvc publish` reuses them ("builds (or reuses)"), as the
# Secure Boot guest is handed its signed build. The client is handed no image: KVC_IMAGE_REPO points
# at the server, KVC_IMAGE_VERIFY_KEY is the builder's public key, KVC_BUILD_FALLBACK=no (it has no
# compiler, source or headers anyway), so kvc@usbip gets its modules only by a verified pull.
# On by default; KVC_E2E_FLEET=0 hands the client its image instead and the server is no builder.
server_fleet=() client_image=(--image "$work/usbip-$CLOUD_KVER.tar")
if [ "${KVC_E2E_FLEET:-1}" = 1 ]; then
	mkdir -p "$work/fleet" "$work/fleet-debs"
	(cd "$work/fleet-debs" && apt-get download -qq docker-registry lsb-base >/dev/null)
	export GNUPGHOME=$work/fleet/gnupg
	mkdir -m 700 "$GNUPGHOME"
	gpg --batch -q --passphrase '' --quick-gen-key 'kvc e2e builder <builder@kvc.test>' ed25519 sign never 2>/dev/null
	fingerprint=$(gpg --with-colons --list-secret-keys | awk -F: '/^fpr:/ { print $10; exit }')
	gpg --batch -q --export-secret-keys --armor "$fingerprint" >"$work/fleet/builder-signing.sec"
	gpg --batch -q --export --armor "$fingerprint" >"$work/fleet/builder-signing.asc"
	echo "$fingerprint" >"$work/fleet/builder-signing.fpr"
	gpgconf --kill gpg-agent 2>/dev/null || true
	unset GNUPGHOME
	install -m 644 "$work/fleet/builder-signing.asc" "$work/tree-client/etc/kvc/image-signing.asc"
	cat >>"$work/tree-client/etc/kvc/kvc.conf" <<'EOF'
KVC_IMAGE_REPO=10.77.0.1:5000/kvc
KVC_IMAGE_VERIFY_KEY=/etc/kvc/image-signing.asc
KVC_IMAGE_SIGNATURES=http://10.77.0.1:8080
KVC_IMAGE_TLS_VERIFY=no
KVC_BUILD_FALLBACK=no
EOF
	echo "$CLOUD_KVER" >"$work/fleet/cloud-kver"
	echo "$CLIENT_BUILD_ARGS" >"$work/fleet/cloud-build-args"
	# A kernel update for the node: Debian's package of $CLOUD_UPDATE_KVER (cached), installed by the
	# client while kvc@usbip runs; the builder publishes that kernel's image too, built here.
	echo "$CLOUD_UPDATE_KVER" >"$work/fleet/cloud-update-kver"
	say "the node's kernel update: Debian's package of $CLOUD_UPDATE_KVER (cached), and kvc build usbip for it here"
	t=$(ms)
	test/e2e/guest/build-guest.sh --update "$CLOUD_UPDATE_KVER"
	cp "${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}/$CLOUD_UPDATE_KVER/linux-image.deb" "$work/fleet/kernel-update-package"
	node_modules/.bin/node lib/cli/main.js --config-dir "$work/config-client" build usbip "$CLOUD_UPDATE_KVER"
	update_tag=$(printf '_%s' "$(printf '%s' "$CLOUD_UPDATE_KVER" | sed 's/_/__/g; s/+/_p/g; s/~/_t/g')")
	case $CLOUD_UPDATE_KVER in *[+~]*) ;; *) update_tag=$CLOUD_UPDATE_KVER ;; esac
	podman save -q -o "$work/usbip-$CLOUD_UPDATE_KVER.tar" "localhost/usbip-1.0.0:$update_tag"
	echo "   ready in $((($(ms) - t) / 1000)) s: $(du -h "$work/usbip-$CLOUD_UPDATE_KVER.tar" | cut -f1)"
	server_fleet=(--image "$work/usbip-$CLOUD_KVER.tar" --image "$work/usbip-$CLOUD_UPDATE_KVER.tar")
	for file in builder-signing.sec builder-signing.fpr cloud-kver cloud-build-args cloud-update-kver; do server_fleet+=(--payload "$work/fleet/$file"); done
	for deb in "$work"/fleet-debs/*.deb; do server_fleet+=(--payload "$deb"); done
	client_image=(--payload "$work/fleet/kernel-update-package")
fi

# tcpdump for the client (the guests have no network): Debian's packages, installed by the guest
# script, to capture what crosses the link (issue 23: what an eavesdropper on it reads).
mkdir -p "$work/debs"
(cd "$work/debs" && apt-get download -qq tcpdump libpcap0.8 >/dev/null)
client_debs=()
for deb in "$work"/debs/*.deb; do client_debs+=(--payload "$deb"); done
# A free port on the host's loopback for the guests' link.
listening() { ss -Hltn "sport = :$port" | grep -q .; }
port=$((20000 + RANDOM % 20000))
while listening; do port=$((20000 + RANDOM % 20000)); done

say "booting the server and the client (two QEMU guests under TCG, linked on 127.0.0.1:$port)"
t=$(ms)
KVC_E2E_TAG='server ' test/e2e/guest/run-guest.sh --kernel "$KVER" --disk "$work/server.img" \
	--usb-disk "disk-a,KVC-DISK-A,$work/disk-a.img" --usb-disk "disk-b,KVC-DISK-B,$work/disk-b.img" --qmp "$work/server.qmp" \
	--kvc-tree "$work/tree" --image "$work/usbip-$KVER.tar" ${server_fleet[@]+"${server_fleet[@]}"} --payload "$work/role-server/role" --payload "$work/role-server/server.devices" \
	--net "listen=127.0.0.1:$port" --script test/e2e/guest/usbip-pair-e2e.sh --mode "$mode" \
	--log "$prefix-server.log" --timeout "${KVC_E2E_TIMEOUT:-1800}" &
pids+=($!)
# The client's QEMU connects to the server's: start it once the server's listens.
n=0; until listening || [ $n -gt 600 ]; do n=$((n + 1)); sleep 0.5; done
KVC_E2E_TAG='client ' test/e2e/guest/run-guest.sh --kernel "$CLOUD_KVER" --disk "$work/client.img" --no-usb \
	--kvc-tree "$work/tree-client" ${client_image[@]+"${client_image[@]}"} --payload "$work/role-client/role" --payload "$work/role-client/client.devices" \
	--payload "$work/disk-a.sha256" --payload "$work/disk-b.sha256" "${client_debs[@]}" \
	--net "connect=127.0.0.1:$port" --script test/e2e/guest/usbip-pair-e2e.sh --mode "$mode" \
	--log "$prefix-client.log" --timeout "${KVC_E2E_TIMEOUT:-1800}" &
pids+=($!)
# The replug, from outside as a person does it: when the client says it is reading disk A, disk A
# is pulled from the server (QMP device_del) and plugged in again 3 s later on another port
# (device_add port=4: a new bus id); the time from the plug to the client saying its disk is
# usable again is the benchmark.
# Waits up to $2 tenths of a second for a line of the console log $3 that matches $1.
said() { local n=0; until grep -q "$1" "$3" 2>/dev/null; do n=$((n + 1)); [ "$n" -gt "$2" ] && return 1; sleep 0.1; done; }
# Pulls disk A out of the server, plugs it in again 3 s later on port 4, and sets `took` to the ms
# from the plug until the client's console says $1.
replug_once() {
	node_modules/.bin/node test/e2e/guest/qmp.mjs "$work/server.qmp" unplug disk-a || return 1
	echo "KVC-E2E: (host) disk-a unplugged from the server (QMP device_del)"
	sleep 3
	node_modules/.bin/node test/e2e/guest/qmp.mjs "$work/server.qmp" plug \
		'{"driver":"usb-storage","id":"disk-a","bus":"xhci.0","port":"4","drive":"disk-a-data","serial":"KVC-DISK-A"}' || return 1
	local t1
	t1=$(ms)
	echo "KVC-E2E: (host) disk-a plugged in again on port 4 (QMP device_add)"
	said "$1" 1800 "$prefix-client.log" || { echo "replug: the client never said its disk is usable again"; return 1; }
	took=$(($(ms) - t1))
}
replug() {
	said '^KVC-E2E: REPLUG' 18000 "$prefix-client.log" || { echo "replug: the client never asked for it"; return 1; }
	# The server checks its status (disk A on its first bus id) before the cable is pulled: wait
	# for it to say it is done, however slowly it runs.
	said 'KVC-E2E: ---- waiting for the host to pull disk A out' 18000 "$prefix-server.log" || { echo "replug: the server never got to wait for it"; return 1; }
	replug_once '^KVC-E2E: USABLE-AGAIN' || return 1
	echo "KVC-E2E: (host) bench: from the replug to disk A usable again on the client: $took ms"
	echo "$took" >"$prefix-replug-ms"
	# Two more, on the same port, for a figure over several runs.
	local i
	for i in 2 3; do
		said "^KVC-E2E: REPLUG disk-a $i" 18000 "$prefix-client.log" || { echo "replug $i: the client never asked for it"; return 1; }
		replug_once "^KVC-E2E: USABLE-AGAIN $i" || return 1
		echo "KVC-E2E: (host) bench: replug $i to disk A usable again on the client: $took ms"
		echo "$(cat "$prefix-replug-ms") $took" >"$prefix-replug-ms"
	done
}
replug >&2 &
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
