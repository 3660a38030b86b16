#!/usr/bin/env bash
# Benchmark: a second kernel's build against the first, cold one (issue 19: ≤ 0.5 ×). Rounds of:
# the cold build (`kvc build --force`: no cached step reused, every package fetched again, as on a
# host that never built usbip) of the first kernel, then the build of a second kernel of the same
# series, its image removed first (the shared toolchain and tools steps cached, as after any first
# build). Wall time of each `kvc build` (image checks and the removal of the build's own step
# images included), on this machine's podman, the usbip instance as shipped under a name of its
# own (usbipratio: no other image touched), Debian's packages from this machine's mirror. Rounds
# interleave the two, so both see the same load; the load average is printed beside each round.
# Writes bench/results/second-kernel.md.
#   bench/second-kernel.sh      (after test/setup/prepare.sh: needs the base images)
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
FIRST=${FIRST:-6.1.0-56-amd64} SECOND=${SECOND:-6.1.0-50-amd64} ROUNDS=${ROUNDS:-3}
node=node_modules/.bin/node
npx tsc -p . >/dev/null
config=$(mktemp -d)
trap 'rm -rf "$config"' EXIT
cp -r host/etc/kvc/. "$config/"
cp "$config/usbip.conf" "$config/usbipratio.conf"
echo KVC_BUILD_NETWORK=host >>"$config/kvc.conf"
kvc() { KVC_LOG_DIR=$config/log "$node" lib/cli/main.js --config-dir "$config" "$@"; }
seconds() { # command... → wall seconds
	local start=$(date +%s.%N)
	"$@" >/dev/null 2>"$config/err" || { cat "$config/err" >&2; exit 1; }
	awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
tag() { case $1 in *[+~]*) printf '_%s' "$(printf '%s' "$1" | sed 's/_/__/g; s/+/_p/g; s/~/_t/g')" ;; *) printf '%s' "$1" ;; esac; }
rows=()
for round in $(seq "$ROUNDS"); do
	load=$(cut -d' ' -f1 /proc/loadavg)
	cold=$(seconds kvc build --force usbipratio "$FIRST")
	podman rmi --force "localhost/usbipratio-1.0.0:$(tag "$SECOND")" >/dev/null 2>&1 || true
	second=$(seconds kvc build usbipratio "$SECOND")
	rows+=("| $round | $load–$(cut -d' ' -f1 /proc/loadavg) | $cold s | $second s | $(awk -v a="$second" -v b="$cold" 'BEGIN { printf "%.2f", a / b }') × |")
	echo "${rows[-1]}" >&2
done
podman images --quiet --filter label=io.kvc.instance=usbipratio | sort -u | xargs -r podman rmi --force >/dev/null 2>&1 || true
{
	echo "| round | load average (start–end) | cold build, $FIRST | second kernel, $SECOND | second / cold |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee bench/results/second-kernel.md
