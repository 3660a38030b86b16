#!/usr/bin/env bash
# The end-to-end run, from the host: builds (or reuses) the guest, installs kvc into a tree with
# `make install DESTDIR=…` exactly as a user does, builds the USB/IP image for the guest's kernel
# with kvc on the host's podman, hands it in with `podman save`, boots the guest and runs the
# guest-side script. MODE: test (default), demo (the same, narrated) or bench.
#   test/e2e/run.sh [test|demo|bench] [console-log]
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-test}
log=${2:-/var/tmp/kvc-e2e-$mode.log}
KVER=${KVER:-6.1.0-56-amd64}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
say() { printf '\n== %s\n' "$*"; }
work=$(mktemp -d /var/tmp/kvc-e2e-host.XXXXXX)
trap 'rm -rf "$work"' EXIT

say "the guest: Debian 12's kernel $KVER without its USB/IP modules, systemd, podman (cached)"
KVER=$KVER test/e2e/guest/build-guest.sh

say "make install DESTDIR=… (kvc with its own Node: the guest has none)"
make --no-print-directory -s install DESTDIR="$work/tree" PREFIX=/usr/local
find "$work/tree" -type f -o -type l | sed "s|^$work/tree||" | sort | sed 's/^/   /'

say "kvc build usbip $KVER on this host's podman"
mkdir -p "$work/config"
cp -r host/etc/kvc/. "$work/config/"
echo 'KVC_BUILD_NETWORK=host' >>"$work/config/kvc.conf"
node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" build usbip "$KVER"
podman save -q -o "$work/image.tar" "localhost/usbip-1.0.0:$KVER"
echo "   podman save: $(du -h "$work/image.tar" | cut -f1)"

say "booting the guest (QEMU, software emulation: this takes a few minutes)"
test/e2e/guest/run-guest.sh --kvc-tree "$work/tree" --image "$work/image.tar" \
	--script test/e2e/guest/usbip-e2e.sh --mode "$mode" --log "$log" --timeout "${KVC_E2E_TIMEOUT:-1500}"
