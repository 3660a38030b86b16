#!/bin/sh
# Runs inside the server guest of test/e2e/run-headerless-cloud.sh: a plain USB/IP server with no
# kvc at all, as any Debian host exports a disk. Debian's generic kernel ($KVER) has usbip-core and
# usbip-host in its own package (the guest root lacks them: build-guest.sh deletes them, so the host
# hands in those two .ko files of the same linux-image package), and Debian's usbip package (its
# .debs handed in: the guests have no mirror). It binds the emulated disk, serves it on the link
# with usbipd, and waits until the client has imported the disk and given it back.
. /usr/local/libexec/kvc-e2e-checks.sh
payload=/var/lib/kvc-e2e/payload
SERVER=10.77.0.1
say "server: Debian's kernel $KVER, Debian's usbip, no kvc"
dpkg -i "$payload"/*.deb 2>&1 | tail -n 2 | show
install -D -m 644 -t "/lib/modules/$KVER/updates/usbip" "$payload"/usbip-*.ko
depmod -a
check "server: the link is up at $SERVER" link_up "$SERVER"
check "server: modprobe usbip-host (Debian's own module)" modprobe usbip-host
usbipd -D
busid=$(stick_busid)
run usbip bind -b "$busid"
# usbip-host's status of a bound device: 1 available, 2 used (imported by a client).
status_is() { [ "$(cat "/sys/bus/usb/devices/$busid/usbip_status" 2>/dev/null)" = "$1" ]; }
exported() { [ -n "$busid" ] && status_is 1 && listening; }
check "server: usbipd listens, the disk ($busid) bound to usbip-host" exported
check "server: the client imported the disk" wait_s 1500 status_is 2
check "server: the client gave it back (its stop detached it)" wait_s 900 status_is 1
echo "KVC-E2E: DONE pass=$pass fail=$fail"
sync
systemctl poweroff --force --force
