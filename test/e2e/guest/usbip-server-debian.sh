#!/bin/sh
# Runs inside the server guest of test/e2e/run-headerless-cloud.sh: a plain USB/IP server with no
# kvc at all, as any Debian host exports a disk. Debian's generic kernel ($KVER) has usbip-core and
# usbip-host in its own package (the guest root lacks them: build-guest.sh deletes them, so the host
# hands in those two .ko files of the same linux-image package), and Debian's usbip package (its
# .debs handed in: the guests have no mirror). It binds the emulated disk, serves it with usbipd
# through a WireGuard interface made by hand (wg0, 10.232.0.1, the client's key its one peer), and
# waits until the client has imported the disk through it, imported it again after cutting its
# connection, and given it back.
. /usr/local/libexec/kvc-e2e-checks.sh
payload=/var/lib/kvc-e2e/payload
SERVER=10.77.0.1
say "server: Debian's kernel $KVER, Debian's usbip, no kvc"
dpkg -i "$payload"/*.deb 2>&1 | tail -n 2 | show
install -D -m 644 -t "/lib/modules/$KVER/updates/usbip" "$payload"/usbip-*.ko
depmod -a
check "server: the link is up at $SERVER" link_up "$SERVER"
check "server: modprobe usbip-host (Debian's own module)" modprobe usbip-host
# The client imports through WireGuard (issue 23: kvc's importing side): this host's end made by
# hand, as a plain Debian host does it, with the keys the host made (the client's public one).
run ip link add wg0 type wireguard
run wg set wg0 listen-port 51820 private-key "$payload/wg-server.key" peer "$(cat "$payload/wg-client.pub")" allowed-ips 10.232.0.2/32
run ip addr add 10.232.0.1/24 dev wg0
run ip link set wg0 up
check "server: wg0 up at 10.232.0.1 with the client's key as its one peer" sh -c "wg show wg0 peers | grep -qxF '$(cat "$payload/wg-client.pub")'"
usbipd -D
busid=$(stick_busid)
run usbip bind -b "$busid"
# usbip-host's status of a bound device: 1 available, 2 used (imported by a client).
status_is() { [ "$(cat "/sys/bus/usb/devices/$busid/usbip_status" 2>/dev/null)" = "$1" ]; }
exported() { [ -n "$busid" ] && status_is 1 && listening; }
check "server: usbipd listens, the disk ($busid) bound to usbip-host" exported
check "server: the client imported the disk" wait_s 1500 status_is 2
# usbipd hands the socket to usbip-host: the kernel's connection to 3240 is the import's.
ss -Htn state established '( sport = :3240 )' | show
check "server: ... through the tunnel: the connection on 3240 comes from 10.232.0.2 (wg0), and wg0 had a handshake" sh -c "ss -Htn state established '( sport = :3240 )' | grep -q '10.232.0.2:' && wg show wg0 latest-handshakes | awk '{ exit !(\$2 > 0) }'"
# The client cuts its connection (ss -K) and its service attaches the disk again: a new connection
# from 10.232.0.2 through the tunnel, told from the first by its port (the cut and the reattach
# can come between two looks at usbip-host's status).
peer() { ss -Htn state established '( sport = :3240 )' | awk '{ print $4 }' | grep '^10\.232\.0\.2:'; }
first=$(peer)
reimported() { now=$(peer) && [ -n "$now" ] && [ "$now" != "$first" ] && status_is 2; }
check "server: the client imported the disk again through the tunnel after it cut its connection (first from ${first:-none})" wait_s 900 reimported
check "server: the client gave it back (its stop detached it)" wait_s 900 status_is 1
echo "KVC-E2E: DONE pass=$pass fail=$fail"
sync
systemctl poweroff --force --force
