#!/bin/sh
# Runs inside the end-to-end guest (systemd as PID 1, Debian 12's kernel without USB/IP, podman,
# kvc installed by `make install`). Prints "KVC-E2E: PASS|FAIL <step>" lines, a transcript
# indented with "  | ", and finally "KVC-E2E: DONE pass=N fail=M". The mode file asks for the
# test, the demo (same steps, more transcript) or the benchmark.
set -u
export PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
pass=0
fail=0
mode=$(cat /var/lib/kvc-e2e/mode 2>/dev/null || echo test)
KVER=$(uname -r)
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
wait_for() { n=0; while ! "$@"; do n=$((n + 1)); [ $n -gt 100 ] && return 1; sleep 0.2; done; }
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

say "guest kernel $KVER; USB/IP modules in its tree: $(find /lib/modules/"$KVER" -name '*usbip*' -o -name 'vhci*' | wc -l); node on PATH: $(command -v node || echo none)"
t=$(ms); podman load -q -i /var/lib/kvc-e2e/image.tar 2>&1 | show
check "image loaded from podman save ($(($(ms) - t)) ms)" podman image exists "localhost/usbip-1.0.0:$KVER"

if [ "$mode" = bench ]; then
	exec /usr/local/libexec/kvc-e2e-bench
fi

say "1. systemctl enable --now kvc@usbip"
t=$(ms)
run systemctl enable --now kvc@usbip
say "started in $(($(ms) - t)) ms"
check "unit kvc@usbip is active" active
check "usbip_core, usbip_host, vhci_hcd are in /sys/module" loaded
check "/sys/devices/platform/vhci_hcd.0 exists" test -d /sys/devices/platform/vhci_hcd.0
systemctl status kvc@usbip --no-pager 2>&1 | head -12 | show
check "the unit's status line says the modules are loaded" sh -c "systemctl show -p StatusText kvc@usbip | grep -q 'loaded into $KVER'"

wait_for test -s /run/kvc/usbip/tools.pid
check "the tools container has no capabilities (CapEff $(tools_caps))" [ "$(tools_caps)" = 0000000000000000 ]

say "2. the host usbip command (kvc's wrapper: $(command -v usbip), $(head -c 2 "$(command -v usbip)"))"
check "usbip is kvc's script, not the tool" grep -q kvc "$(command -v usbip)"
run usbipd -D
# Under TCG the daemon needs a moment after -D before it listens: wait for the listener itself.
wait_for listening
run usbip list -l
busid=$(stick_busid)
check "usbip list -l shows the emulated USB disk (busid ${busid:-none})" sh -c "usbip list -l | grep -q 'busid ${busid:-none} '"
run usbip bind -b "$busid"
wait_for test -e "/sys/bus/usb/drivers/usbip-host/$busid"
check "the disk is bound to usbip-host" test -e "/sys/bus/usb/drivers/usbip-host/$busid"
# Two attaches of the same device at once: exactly one may go through.
usbip attach -r 127.0.0.1 -b "$busid" >/tmp/attach1.out 2>&1 &
usbip attach -r 127.0.0.1 -b "$busid" >/tmp/attach2.out 2>&1 &
wait
cat /tmp/attach1.out /tmp/attach2.out | show
wait_for vhci_disk >/dev/null
check "two simultaneous attaches of one device: one port in use, the other refused" sh -c "[ \$(usbip port | grep -c 'Port in Use') -eq 1 ] && grep -q 'not attaching it twice' /tmp/attach1.out /tmp/attach2.out"
run usbip attach -r 127.0.0.1 -b "$busid"
check "a later attach of the attached device is refused" sh -c "usbip attach -r 127.0.0.1 -b $busid 2>&1 | grep -q 'already attached'"
run usbip port
check "usbip port shows a port in use" sh -c "usbip port | grep -q 'Port in Use'"
run lsusb
check "lsusb shows the disk twice (once on the vhci bus)" sh -c "[ \$(lsusb | grep -c 46f4:0001) -eq 2 ]"
disk=$(vhci_disk)
expected=$(cat /var/lib/kvc-e2e/stick.sha256)
actual=$(head -c $((8 * 1024 * 1024)) "/dev/${disk:-none}" 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "  | read 8 MiB through USB/IP from /dev/${disk:-none}: sha256 $actual (written: $expected)"
check "the data read through the attached disk is the data on it" [ "$actual" = "$expected" ]

say "3. systemctl stop kvc@usbip (with the disk attached and usbipd running)"
run systemctl stop kvc@usbip
check "the unit is inactive" sh -c "[ \$(systemctl is-active kvc@usbip) = inactive ]"
check "nothing of usbip_core, usbip_host, vhci_hcd is left in /sys/module" none_loaded
check "the disk is back with its own driver (usb-storage)" test -e "/sys/bus/usb/drivers/usb-storage/$busid:1.0"
journalctl -u kvc@usbip --no-pager -o cat 2>&1 | show
check "the journal says what was detached and unloaded" sh -c "journalctl -u kvc@usbip -o cat | grep -q 'detached vhci port' && journalctl -u kvc@usbip -o cat | grep -q 'unloaded vhci-hcd, usbip-host, usbip-core'"
check "no error-priority lines in the unit's journal" sh -c "[ -z \"\$(journalctl -u kvc@usbip -p err -o cat)\" ]"
pkill -x usbipd

say "4. restart, and start when the modules are already loaded"
run systemctl start kvc@usbip
run systemctl restart kvc@usbip
check "after restart the unit is active and the modules are loaded" sh -c "[ \$(systemctl is-active kvc@usbip) = active ] && [ -e /sys/module/vhci_hcd ]"
run systemctl start kvc@usbip
check "a second start is harmless" active
run systemctl stop kvc@usbip
run kvc load usbip "$KVER"
run systemctl start kvc@usbip
check "start with the modules already loaded by hand: active" active
check "... and the journal says they were skipped" sh -c "journalctl -u kvc@usbip -o cat | grep -q 'already loaded, skipped'"

say "5. kvc over D-Bus: status, disable --now, enable --now"
run kvc status --json
check "kvc status --json shows the unit active with its status text" sh -c "kvc status --json | grep -q '\"activeState\": \"active\"'"
run kvc disable --now usbip
check "kvc disable --now stopped the unit and unloaded the modules" sh -c "[ \$(systemctl is-active kvc@usbip) = inactive ] && [ ! -e /sys/module/vhci_hcd ]"
check "... and disabled it" sh -c "[ \$(systemctl is-enabled kvc@usbip) = disabled ]"
run kvc enable --now usbip
check "kvc enable --now returned with the unit active and the modules loaded" sh -c "[ \$(systemctl is-active kvc@usbip) = active ] && [ -e /sys/module/vhci_hcd ]"
check "... and enabled it" sh -c "[ \$(systemctl is-enabled kvc@usbip) = enabled ]"
run systemctl stop kvc@usbip

say "6. a build for the kernel that boots next holds off a shutdown (logind inhibitor)"
# A test instance "slow": the USB/IP image under another name, whose build waits for any kernel
# but the running one; and a made-up kernel 6.1.0-999-amd64, the newest installed, so it boots next.
next=6.1.0-999-amd64
mkdir -p /etc/kvc/slow "/lib/modules/$next"
: >"/lib/modules/$next/modules.dep"
cat >/etc/kvc/slow/Containerfile <<CONTAINERFILE
FROM localhost/usbip-1.0.0:$KVER
ARG KVER
ARG KMODVER
RUN [ "\$KVER" = "$KVER" ] || exec sleep 900
CONTAINERFILE
printf '%s\n' 'KMOD_CONTAINER_BUILD_CONTEXT=slow' 'KMOD_CONTAINER_BUILD_FILE=Containerfile' \
	'KMOD_SOFTWARE_VERSION=1.0.0' 'KMOD_NAMES="usbip-core usbip-host vhci-hcd"' >/etc/kvc/slow.conf
inhibited() { systemd-inhibit --list --no-pager 2>/dev/null | grep -q "building slow modules for $next"; }
wait_long() { n=0; while ! "$@"; do n=$((n + 1)); [ $n -gt 900 ] && return 1; sleep 0.2; done; }
t=$(ms)
run systemctl start kvc@slow
say "kvc@slow started in $(($(ms) - t)) ms (its image for $KVER built at start)"
check "kvc@slow is active" sh -c "[ \$(systemctl is-active kvc@slow) = active ]"
wait_long inhibited
run systemd-inhibit --list --no-pager
check "a build for the next boot's kernel holds a shutdown inhibitor with kvc's reason" inhibited
echo "  | # systemctl --dry-run --check-inhibitors=yes reboot"
refusal=$(systemctl --dry-run --check-inhibitors=yes reboot 2>&1); refused=$?
echo "$refusal" | show
check "systemctl reboot (checking inhibitors) refuses, naming kvc's reason" sh -c "[ $refused -ne 0 ] && echo \"\$1\" | grep -q 'building slow modules for $next'" - "$refusal"
run kvc status slow
check "kvc status shows the next boot's kernel building and warns that it has no image" sh -c "kvc status slow | grep -q 'kernel $next (next boot): building now' && kvc status slow | grep -q 'warning: the kernel that boots next, $next, has no slow image (building)'"
t=$(ms)
run systemctl stop kvc@slow
say "kvc@slow stopped in $(($(ms) - t)) ms"
check "stopping the service cancelled the build and released the inhibitor" sh -c "[ \$(systemctl is-active kvc@slow) = inactive ] && ! systemd-inhibit --list --no-pager | grep -q kvc && [ -z \"\$(podman ps --all --external --quiet)\" ]"
journalctl -u kvc@slow -n 12 --no-pager -o cat 2>&1 | show
rm -rf "/lib/modules/$next"

echo "KVC-E2E: DONE pass=$pass fail=$fail"
# Power off at once: the verdict is out, and nothing in the guest needs an orderly shutdown.
sync
systemctl poweroff --force --force
