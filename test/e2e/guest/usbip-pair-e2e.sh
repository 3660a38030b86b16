#!/bin/sh
# Runs inside each of the two guests of the cloud-kernel end-to-end test, as deployed: a server on
# Debian's generic kernel (a USB disk, kvc@usbip, usbipd, the disk bound) and a client on Debian's
# cloud kernel (no USB support at all; kvc@usbip loads the USB core it builds as well), on a
# private link between the two QEMU processes and nothing else. The payload file "role" says
# which; the client also gets the disk's checksum. A third boot of the client, with
# module.sig_enforce=1 on its command line, checks that kvc refuses its unsigned modules first.
. /usr/local/libexec/kvc-e2e-checks.sh
payload=/var/lib/kvc-e2e/payload
role=$(cat "$payload/role")
SERVER=10.77.0.1
CLIENT=10.77.0.2
# What kvc@usbip loads on the cloud kernel: the USB core it built, USB/IP, the storage drivers.
CLIENT_MODULES="usb_common usbcore usbip_core vhci_hcd usb_storage uas"
all_in() { for m in "$@"; do [ -e "/sys/module/$m" ] || return 1; done; }
none_in() { for m in "$@"; do [ ! -e "/sys/module/$m" ] || return 1; done; }
# The link's interface (the only one but lo), up with the given address.
link_up() {
	wait_for sh -c 'ls /sys/class/net | grep -qv "^lo$"' || return 1
	dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
	ip link set dev "$dev" up && ip addr add "$1/24" dev "$dev"
}
# The busid of the server's QEMU disk in `usbip list -r` (46f4:0001), when exported.
remote_busid() { usbip list -r "$SERVER" 2>/dev/null | awk '/46f4:0001/ { sub(":", "", $1); print $1; exit }'; }
exported() { [ -n "$(remote_busid)" ]; }
client_up() { active && all_in $CLIENT_MODULES; }
client_down() { [ "$(systemctl is-active kvc@usbip)" = inactive ] && ! vhci_disk >/dev/null && none_in $CLIENT_MODULES; }

if grep -qw 'module.sig_enforce=1' /proc/cmdline; then
	say "client, booted with module.sig_enforce=1: kernel $KVER, unsigned modules are refused"
	wait_long sh -c '[ "$(systemctl is-active kvc@usbip)" != activating ]'
	journalctl -b -u kvc@usbip --no-pager -o cat 2>&1 | show
	check "kvc@usbip (enabled) failed at boot, saying the kernel refuses unsigned modules, and is not retried" sh -c "
		[ \$(systemctl is-active kvc@usbip) = failed ] &&
		journalctl -b -u kvc@usbip -o cat | grep -q 'sig_enforce' &&
		[ \$(systemctl show -p NRestarts --value kvc@usbip) = 0 ]"
	echo "  | # kvc load usbip $KVER"
	out=$(kvc load usbip "$KVER" 2>&1); status=$?
	echo "$out" | show
	check "kvc load refuses with one line naming sig_enforce and what to do (exit $status)" sh -c "
		[ $status -ne 0 ] && [ \$(printf '%s\n' \"\$1\" | wc -l) -eq 1 ] && printf '%s' \"\$1\" | grep -q 'sig_enforce'" - "$out"
	check "nothing was loaded: none of $CLIENT_MODULES in /sys/module" none_in $CLIENT_MODULES
	echo "KVC-E2E: DONE pass=$pass fail=$fail"
	sync
	systemctl poweroff --force --force
fi

if [ "$role" = server ]; then
	say "server: kernel $KVER (generic, with USB), USB/IP modules in its tree: $(find /lib/modules/"$KVER" -name '*usbip*' -o -name 'vhci*' | wc -l)"
	for archive in /var/lib/kvc-e2e/images/*.tar; do podman load -q -i "$archive" 2>&1 | show; done
	check "server: the link is up at $SERVER" link_up "$SERVER"
	run systemctl enable --now kvc@usbip
	check "server: kvc@usbip loaded usbip_core, usbip_host, vhci_hcd" loaded
	busid=$(stick_busid)
	native=$(for b in /sys/block/sd*; do case $(readlink -f "$b") in *"/$busid/"*) basename "$b" ;; esac; done | head -n 1)
	native_ms=$(read_ms "${native:-none}" 8)
	say "bench: native read of 8 MiB from /dev/${native:-none}: ${native_ms:-?} ms"
	run usbipd -D
	wait_for listening
	run usbip bind -b "$busid"
	exporting() { [ -e "/sys/bus/usb/drivers/usbip-host/$busid" ] && listening; }
	check "server: the disk ($busid) is bound to usbip-host and usbipd listens" exporting
	status_file=/sys/bus/usb/drivers/usbip-host/$busid/usbip_status
	# usbip_status: 1 available, 2 used (imported by a client).
	say "waiting for the client to import the disk"
	n=0; until [ "$(cat "$status_file" 2>/dev/null)" = 2 ] || [ $n -gt 6000 ]; do n=$((n + 1)); sleep 0.2; done
	check "server: the client imported the disk" [ "$(cat "$status_file" 2>/dev/null)" = 2 ]
	n=0; until [ "$(cat "$status_file" 2>/dev/null)" = 1 ] || [ $n -gt 3000 ]; do n=$((n + 1)); sleep 0.2; done
	check "server: the client released it (its service stopped)" [ "$(cat "$status_file" 2>/dev/null)" = 1 ]
	run systemctl stop kvc@usbip
	check "server: stopped and unloaded" none_loaded
	echo "KVC-E2E: DONE pass=$pass fail=$fail"
	sync
	systemctl poweroff --force --force
fi

say "client: kernel $KVER; USB in its config: $(grep -E '^(# )?CONFIG_USB_SUPPORT' "/boot/config-$KVER" 2>/dev/null || echo 'no config'); modules under drivers/usb: $(find "/lib/modules/$KVER" -path '*drivers/usb*' -name '*.ko*' | wc -l)"
check "client: the kernel has no USB at all (no /sys/bus/usb, nothing under drivers/usb)" sh -c "[ ! -e /sys/bus/usb ] && [ \$(find /lib/modules/$KVER -path '*drivers/usb*' -name '*.ko*' | wc -l) -eq 0 ]"
t=$(ms)
for archive in /var/lib/kvc-e2e/images/*.tar; do podman load -q -i "$archive" 2>&1 | show; done
check "client: image loaded from podman save ($(($(ms) - t)) ms)" podman image exists "localhost/usbip-1.0.0:$TAG"
check "client: the link is up at $CLIENT" link_up "$CLIENT"
t=$(ms)
run systemctl enable --now kvc@usbip
say "started in $(($(ms) - t)) ms"
journalctl -u kvc@usbip --no-pager -o cat 2>&1 | show
check "client: kvc@usbip is active with the USB core, USB/IP and storage drivers loaded ($CLIENT_MODULES)" client_up
check "client: /sys/devices/platform/vhci_hcd.0 exists" test -d /sys/devices/platform/vhci_hcd.0
run kvc status usbip
check "client: kvc status says kvc provides the USB core for this kernel" sh -c "kvc status usbip | grep -q 'kernel $KVER (running, next boot): .*provides modules the kernel lacks: usb-common, usbcore, usb-storage, uas'"
say "waiting for the server to export its disk"
wait_long exported
busid=$(remote_busid)
run usbip list -r "$SERVER"
check "client: usbip list -r $SERVER shows the server's disk (${busid:-none})" exported
run usbip attach -r "$SERVER" -b "$busid"
wait_long vhci_disk >/dev/null
run usbip port
disk=$(vhci_disk)
check "client: the disk appeared on the vhci bus (/dev/${disk:-none})" [ -n "$disk" ]
expected=$(cat "$payload/stick.sha256")
actual=$(head -c $((8 * 1024 * 1024)) "/dev/${disk:-none}" 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "  | read 8 MiB through USB/IP from /dev/${disk:-none}: sha256 $actual (written: $expected)"
check "client: the data read through USB/IP is the data on the server's disk" [ "$actual" = "$expected" ]
remote_ms=$(read_ms "${disk:-none}" 8)
say "bench: read of 8 MiB through USB/IP from /dev/${disk:-none}: ${remote_ms:-?} ms"
run systemctl stop kvc@usbip
journalctl -u kvc@usbip -n 8 --no-pager -o cat 2>&1 | show
check "client: stop detached the disk and unloaded everything kvc loaded, usbcore included" client_down
echo "KVC-E2E: DONE pass=$pass fail=$fail"
sync
systemctl poweroff --force --force
