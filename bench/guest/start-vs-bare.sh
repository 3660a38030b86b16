#!/bin/sh
# Runs inside the end-to-end guest (mode "bench"): `systemctl start kvc@usbip` with the image
# present, against a bare `podman run --rm --privileged <image> modprobe -a …` of the same modules,
# in the same guest, each N times with the modules unloaded in between; prints the medians.
set -u
N=${N:-7}
KVER=$(uname -r)
IMAGE=localhost/usbip-1.0.0:$KVER
ms() { date +%s%3N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
unload() { rmmod vhci_hcd usbip_host usbip_core 2>/dev/null; true; }

unload
kvc_times=''
bare_times=''
i=0
while [ $i -lt "$N" ]; do
	i=$((i + 1))
	t=$(ms); systemctl start kvc@usbip; kvc_times="$kvc_times $(($(ms) - t))"
	systemctl stop kvc@usbip
	unload
	t=$(ms); podman run --rm --privileged "$IMAGE" modprobe -a usbip-core usbip-host vhci-hcd; bare_times="$bare_times $(($(ms) - t))"
	unload
done
node_times=''
i=0
while [ $i -lt "$N" ]; do
	i=$((i + 1))
	t=$(ms); kvc --version >/dev/null; node_times="$node_times $(($(ms) - t))"
done
kvc=$(echo "$kvc_times" | tr ' ' '\n' | grep . | median)
bare=$(echo "$bare_times" | tr ' ' '\n' | grep . | median)
echo "KVC-E2E: BENCH runs=$N kvc_start_ms=[${kvc_times# }] bare_podman_modprobe_ms=[${bare_times# }]"
echo "KVC-E2E: BENCH median kvc_start_ms=$kvc bare_ms=$bare ratio=$(awk "BEGIN { printf \"%.2f\", $kvc / $bare }") kvc_version_ms=$(echo "$node_times" | tr ' ' '\n' | grep . | median)"
echo "KVC-E2E: DONE pass=1 fail=0"
sync
systemctl poweroff --force --force
