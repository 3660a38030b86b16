#!/usr/bin/env bash
# `make demo`: the whole story on a fresh machine, with a readable transcript.
set -euo pipefail
cd "$(dirname "$0")/../.."
cat <<'INTRO'
kvc demo: Debian 12 kernels whose USB/IP modules were deleted (as on Azure, Docker Desktop or
RHEL CoreOS) get them from container images kvc builds on this host.

Part 1, one QEMU guest with systemd on kernel 6.1: `systemctl enable --now kvc@usbip` loads them,
the host `usbip` command (kvc's wrapper) exports the guest's emulated USB disk and attaches it
back over 127.0.0.1, the data is read through it, and `systemctl stop` detaches and unloads
everything. Then the 6.12 kernel package is installed while kvc runs (its image is already
there, so nothing is built), the guest reboots into 6.12, kvc@usbip comes up by itself, and
everything is shown again, with the pod `kvc kube daemonset` prints run by `podman kube play`.

Part 2, two guests linked only to each other: a client on Debian's cloud kernel, which has no
USB at all, gets the USB core and USB/IP from kvc and imports the server's USB disk; then it
boots with module.sig_enforce=1 and kvc refuses its unsigned modules before loading anything.
INTRO
one="/var/tmp/kvc-e2e-demo-${KVER:-6.1.0-56-amd64}.log, /var/tmp/kvc-e2e-demo-${UPDATE_KVER:-6.12.117+deb12-amd64}.log"
two="/var/tmp/kvc-e2e-pair-demo-{server,client,client-sig-enforce}.log"
if ! test/e2e/run.sh demo /var/tmp/kvc-e2e-demo; then
	printf '\nkvc demo: a step of part 1 failed; see %s\n' "$one" >&2
	exit 1
fi
if ! test/e2e/run-pair.sh demo /var/tmp/kvc-e2e-pair-demo; then
	printf '\nkvc demo: a step of part 2 failed; see %s\n' "$two" >&2
	exit 1
fi
printf '\nkvc demo: every step passed. Console logs: %s; %s\n' "$one" "$two"
