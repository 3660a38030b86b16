# Shared by the guest-side scripts of the end-to-end tests (sourced): PASS/FAIL lines, the
# transcript, and what they look for in the guest (modules, the tools container, USB disks).
set -u
export PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
pass=0
fail=0
mode=$(cat /var/lib/kvc-e2e/mode 2>/dev/null || echo test)
KVER=$(uname -r)
# The image's tag as kvc makes it (imageTagFor): a release with + or ~ gets a leading _ and _ + ~
# escaped as __ _p _t (6.12.117+deb12-amd64 → _6.12.117_pdeb12-amd64); any other is its own tag.
tag() { case $1 in *[+~]*) printf '_%s' "$(printf '%s' "$1" | sed 's/_/__/g; s/+/_p/g; s/~/_t/g')" ;; *) printf '%s' "$1" ;; esac; }
TAG=$(tag "$KVER")
ok() { echo "KVC-E2E: PASS $*"; pass=$((pass + 1)); }
bad() { echo "KVC-E2E: FAIL $*"; fail=$((fail + 1)); }
check() {
	what=$1; shift
	if "$@"; then ok "$what"; return; fi
	bad "$what"
	echo "  | unit: $(systemctl is-active kvc@usbip); modules: $(ls -d /sys/module/usbip_core /sys/module/usbip_host /sys/module/vhci_hcd 2>/dev/null | xargs -r -n1 basename | xargs)"
	journalctl -u kvc@usbip -n 25 --no-pager -o cat 2>&1 | show
}
# Each step's heading comes after the guest's uptime, so that a console log shows where a boot's
# time went.
say() { echo "  | (uptime $(cut -d' ' -f1 /proc/uptime) s)"; echo "KVC-E2E: ---- $*"; }
show() { sed 's/^/  | /'; }
run() { echo "  | # $*"; "$@" 2>&1 | show; }
loaded() { for m in usbip_core usbip_host vhci_hcd; do [ -e "/sys/module/$m" ] || return 1; done; }
none_loaded() { for m in usbip_core usbip_host vhci_hcd; do [ ! -e "/sys/module/$m" ] || return 1; done; }
active() { [ "$(systemctl is-active kvc@usbip)" = active ]; }
# usbipd listens on TCP 3240 (0CA8): state 0A (LISTEN) in /proc/net/tcp or tcp6.
listening() { awk '$2 ~ /:0CA8$/ && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
tools_caps() { read -r pid _ </run/kvc/usbip/tools.pid 2>/dev/null && sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$pid/status"; }
# Waits up to SECONDS for a condition, polling it (no fixed sleep: it returns as soon as the
# condition holds, however long each poll takes); on the deadline it says what it waited for.
wait_s() {
	deadline=$(($(date +%s) + $1)); shift
	while ! "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && { echo "  | waited until the deadline for: $*; still not so" >&2; return 1; }
		sleep 0.2
	done
}
# Up to a minute (generous: the guests run under TCG on a busy machine).
wait_for() { wait_s 60 "$@"; }
# Up to ten minutes (a build, a boot-time start, a package install under TCG).
wait_long() { wait_s 600 "$@"; }
stick_busid() {
	for d in /sys/bus/usb/devices/*; do
		[ "$(cat "$d/product" 2>/dev/null)" = "QEMU USB HARDDRIVE" ] || continue
		case $(readlink -f "$d") in *vhci_hcd*) continue ;; esac
		basename "$d"; return 0
	done
	return 1
}
vhci_disk() {
	for b in /sys/block/sd*; do
		case $(readlink -f "$b") in *vhci_hcd*) basename "$b"; return 0 ;; esac
	done
	return 1
}
ms() { date +%s%3N; }
# The link to the other guest of a pair (run-guest.sh --net): its interface (the only one but lo,
# left in $dev), up with the given address.
link_up() {
	wait_for sh -c 'ls /sys/class/net | grep -qv "^lo$"' || return 1
	dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
	ip link set dev "$dev" up && ip addr add "$1/24" dev "$dev"
}

# The time that many bytes of a block device take to read, in ms, bypassing the page cache.
read_ms() { t0=$(ms); dd if="/dev/$1" of=/dev/null bs=1M count="$2" iflag=direct status=none || return 1; echo $(($(ms) - t0)); }

# One USB/IP round trip: BUSID attached from ADDRESS, the disk on the vhci bus, its first 8 MiB
# read and compared by sha256 with what was written on it (/var/lib/kvc-e2e/stick.sha256), the
# port detached. The attach is made by the command in $USBIP_ATTACH (default: usbip, kvc's host
# command); LABEL leads every PASS/FAIL line. Leaves attach_ms (attach to the disk on the vhci
# bus) and rt_read_ms (8 MiB read with O_DIRECT) for the caller's TIME lines.
rt_attached() { usbip port | grep -q 'Port in Use' && vhci_disk >/dev/null; }
rt_detached() { ! usbip port | grep -q 'Port in Use' && ! vhci_disk >/dev/null; }
usbip_round_trip() {
	rt_address=$1 rt_busid=$2 rt_label=$3
	rt_t=$(ms)
	run ${USBIP_ATTACH:-usbip} attach -r "$rt_address" -b "$rt_busid"
	wait_for vhci_disk >/dev/null
	attach_ms=$(($(ms) - rt_t))
	check "$rt_label: usbip attach: a port in use, the disk on the vhci bus (-r $rt_address, $attach_ms ms)" rt_attached
	rt_disk=$(vhci_disk)
	rt_read_ms=$(read_ms "${rt_disk:-none}" 8)
	rt_expected=$(cat /var/lib/kvc-e2e/stick.sha256)
	rt_actual=$(head -c $((8 * 1024 * 1024)) "/dev/${rt_disk:-none}" 2>/dev/null | sha256sum | cut -d' ' -f1)
	echo "  | read 8 MiB through USB/IP from /dev/${rt_disk:-none}: sha256 $rt_actual (written: $rt_expected; O_DIRECT read ${rt_read_ms:-?} ms)"
	check "$rt_label: the data read through the attached disk is the data on it" [ "$rt_actual" = "$rt_expected" ]
	rt_port=$(usbip port 2>/dev/null | sed -n 's/^Port \([0-9]*\): <Port in Use>.*/\1/p' | head -n 1)
	run usbip detach -p "${rt_port:-none}"
	wait_for rt_detached
	check "$rt_label: usbip detach (port ${rt_port:-none}): no port in use, the disk gone from the vhci bus" rt_detached
}
