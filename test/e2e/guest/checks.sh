# Shared by the guest-side scripts of the end-to-end tests (sourced): PASS/FAIL lines, the
# transcript, and what they look for in the guest (modules, the tools container, USB disks).
set -u
export PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
pass=0
fail=0
mode=$(cat /var/lib/kvc-e2e/mode 2>/dev/null || echo test)
KVER=$(uname -r)
# The image's tag: a kernel release with + or ~ (6.12.117+deb12-amd64) is tagged with _ instead.
TAG=$(printf '%s' "$KVER" | tr '+~' '__')
ok() { echo "KVC-E2E: PASS $*"; pass=$((pass + 1)); }
bad() { echo "KVC-E2E: FAIL $*"; fail=$((fail + 1)); }
check() {
	what=$1; shift
	if "$@"; then ok "$what"; return; fi
	bad "$what"
	echo "  | unit: $(systemctl is-active kvc@usbip); modules: $(ls -d /sys/module/usbip_core /sys/module/usbip_host /sys/module/vhci_hcd 2>/dev/null | xargs -r -n1 basename | xargs)"
	journalctl -u kvc@usbip -n 25 --no-pager -o cat 2>&1 | show
}
say() { echo "KVC-E2E: ---- $*"; }
show() { sed 's/^/  | /'; }
run() { echo "  | # $*"; "$@" 2>&1 | show; }
loaded() { for m in usbip_core usbip_host vhci_hcd; do [ -e "/sys/module/$m" ] || return 1; done; }
none_loaded() { for m in usbip_core usbip_host vhci_hcd; do [ ! -e "/sys/module/$m" ] || return 1; done; }
active() { [ "$(systemctl is-active kvc@usbip)" = active ]; }
# usbipd listens on TCP 3240 (0CA8): state 0A (LISTEN) in /proc/net/tcp or tcp6.
listening() { awk '$2 ~ /:0CA8$/ && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
tools_caps() { read -r pid _ </run/kvc/usbip/tools.pid 2>/dev/null && sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$pid/status"; }
# Waits up to a minute for a condition (generous: the guests run under TCG on a busy machine).
wait_for() { n=0; while ! "$@"; do n=$((n + 1)); [ $n -gt 300 ] && return 1; sleep 0.2; done; }
# The same for up to ten minutes (a build, a boot-time start, a package install under TCG).
wait_long() { n=0; while ! "$@"; do n=$((n + 1)); [ $n -gt 3000 ] && return 1; sleep 0.2; done; }
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

# The time that many bytes of a block device take to read, in ms, bypassing the page cache.
read_ms() { t0=$(ms); dd if="/dev/$1" of=/dev/null bs=1M count="$2" iflag=direct status=none || return 1; echo $(($(ms) - t0)); }
