#!/usr/bin/env bash
# `make demo`: the whole story on a fresh machine, with a readable transcript.
set -euo pipefail
cd "$(dirname "$0")/../.."
cat <<'INTRO'
kvc demo: a Debian 12 kernel whose USB/IP modules were deleted (as on Azure, Docker Desktop or
RHEL CoreOS) gets them from a container image kvc builds on this host. In a QEMU guest with
systemd, `systemctl enable --now kvc@usbip` loads them, the host `usbip` command (kvc's wrapper)
exports the guest's emulated USB disk and attaches it back over 127.0.0.1, the data is read
through it, and `systemctl stop` detaches and unloads everything.
INTRO
if test/e2e/run.sh demo; then
	printf '\nkvc demo: every step passed. Console log: /var/tmp/kvc-e2e-demo.log\n'
else
	printf '\nkvc demo: a step failed; see /var/tmp/kvc-e2e-demo.log\n' >&2
	exit 1
fi
