#!/usr/bin/env bash
# Benchmark: the host `usbip` command (kvc's host command, host/lib/kvc-tool) against `podman run --rm` of the same
# command and against the native binary, `usbip version`, median of many runs (hyperfine).
# Writes docs/benchmarks.md's table to stdout and to bench/results/host-usbip.md.
#   bench/run.sh            (after `make test` or test/setup/prepare.sh: needs the usbip image)
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
KVER=${KVER:-6.1.0-56-amd64}
IMAGE=localhost/usbip-1.0.0:$KVER
RUNS=${RUNS:-40}
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
[ -x /usr/sbin/usbip ] || apt-get install -y -qq --no-install-recommends usbip >/dev/null
podman image exists "$IMAGE" || { echo "bench: $IMAGE missing: run make test (or kvc build usbip $KVER) first" >&2; exit 69; }
npx tsc -p . >/dev/null

work=$(mktemp -d)
trap 'node_modules/.bin/node bench/tools-holder.mjs stop "$work/run" "$KVER" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/run"
# usbip's host command as make install writes it, running the repository's kvc-tool.
sed "s|@LIBDIR@|$PWD/host/lib|g; s|@INSTANCE@|usbip|g; s|@PATH@|/usr/sbin/usbip|g; s|@TOOL@|usbip|g" host/bin/host-command.in >"$work/bin/usbip"
chmod 755 "$work/bin/usbip"
printf '#!/bin/sh\nexec %s %s --config-dir %s "$@"\n' "$PWD/node_modules/.bin/node" "$PWD/lib/cli/main.js" "$PWD/host/etc/kvc" >"$work/bin/kvc"
printf '#!/bin/sh\necho %s\n' "$KVER" >"$work/bin/uname"
chmod 755 "$work/bin/kvc" "$work/bin/uname"
export KVC_RUN_DIR=$work/run KVC_STATE_DIR=$work/no-state PATH="$work/bin:$PATH"

measure() { # name, command...
	local name=$1; shift
	hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/$name.json" "$*" >/dev/null 2>&1 ||
		hyperfine --warmup 3 --runs "$RUNS" --export-json "$work/$name.json" "$*" >/dev/null
	node_modules/.bin/node -e 'const r=require(process.argv[1]).results[0];console.log((r.median*1000).toFixed(1))' "$work/$name.json"
}

native=$(measure native /usr/sbin/usbip version)
fallback=$(measure fallback "$work/bin/usbip" version)
# The fallback as it is after kvc built the image: the host command runs podman from kvc's record.
node_modules/.bin/node bench/tools-holder.mjs record "$work/state" "$KVER" >/dev/null
recorded=$(KVC_STATE_DIR=$work/state measure recorded "$work/bin/usbip" version)
podman_run=$(measure podman_run podman run --rm --privileged --network=host "$IMAGE" usbip version)
node_modules/.bin/node bench/tools-holder.mjs start "$work/run" "$KVER" >/dev/null
fast=$(measure fast "$work/bin/usbip" version)
podman_exec=$(measure podman_exec podman exec kvc-usbip-tools usbip version)

ratio=$(awk "BEGIN { printf \"%.3f\", $fast / $podman_run }")
mkdir -p bench/results
{
	echo "| \`usbip version\` via | median (ms) | × podman run |"
	echo "|---|---:|---:|"
	for row in "host \`usbip\`, instance loaded (podman exec in the tools container):$fast" \
		"host \`usbip\`, instance not loaded, image recorded (fallback: podman run from kvc's record):$recorded" \
		"host \`usbip\`, instance not loaded, no record (fallback: kvc wrapper → podman run):$fallback" \
		"\`podman run --rm --privileged --network=host IMAGE usbip\`:$podman_run" \
		"\`podman exec kvc-usbip-tools usbip\`:$podman_exec" \
		"native /usr/sbin/usbip (Debian's package):$native"; do
		echo "| ${row%:*} | ${row##*:} | $(awk "BEGIN { printf \"%.3f\", ${row##*:} / $podman_run }") |"
	done
	echo
	echo "$RUNS runs each after 3 warm-ups (hyperfine, median), $(nproc) cores, $(date -u +%Y-%m-%d), podman $(podman version --format '{{.Client.Version}}'). Target: host command ≤ 0.1 × podman run; measured $ratio."
} | tee bench/results/host-usbip.md
