#!/bin/bash
# Runs inside the client guest of test/e2e/run-headerless-cloud.sh: Debian's cloud kernel (no USB
# at all), no USB controller, a link to the server guest (10.77.0.1), which exports a USB disk.
# Installs kvc from its .deb, loads the image of instance usbip-source (built on the host by the
# header-less recipe: the kernel's source and config, no headers package) and checks that
# kvc@usbip-source loads it after kvc's ABI check, that the kernel takes the USB core, USB/IP and
# storage modules without a complaint, that the service's device manager attaches the server's disk
# by itself (usbip-source.devices imports it by VID:PID) through the WireGuard tunnel the service
# brings up ([tunnel], the server a peer of kvc's; issue 23's importing side), that the link
# carries nothing of USB/IP in clear, that the data read through USB/IP is the disk's, and that
# a connection cut on this side is attached again through the tunnel, and that the stop detaches
# it, unloads them all and takes the tunnel down.
. /usr/local/libexec/kvc-e2e-checks.sh
hl=/var/lib/kvc-e2e/headerless
image=localhost/usbip-source-1.0.0:$TAG
added="usb_common usbcore usbip_core usbip_host vhci_hcd usb_storage uas"
all_loaded() { for m in $added; do [ -e "/sys/module/$m" ] || return 1; done; }
none_of_them() { for m in $added; do [ ! -e "/sys/module/$m" ] || return 1; done; }
rejections() { dmesg | grep -E 'disagrees about version of symbol|no symbol version for|version magic|Invalid module format|module_layout|Unknown symbol' || true; }
journal() { journalctl -b -u kvc@usbip-source -o cat; }
started() { [ "$(systemctl is-active kvc@usbip-source)" = active ] && all_loaded; }
stopped() { [ "$(systemctl is-active kvc@usbip-source)" = inactive ] && none_of_them; }
detached_and_stopped() { ! vhci_disk >/dev/null && stopped; }

say "kernel $KVER: /sys/bus/usb $([ -e /sys/bus/usb ] && echo present || echo absent); usbcore in its tree: $(find "/lib/modules/$KVER" -name 'usbcore.ko*' | wc -l), built in: $(grep -c '/usbcore.ko$' "/lib/modules/$KVER/modules.builtin")"
# (The guest root has no /boot/config: the kernel's own modules tree says it.)
check "the kernel has no USB: no /sys/bus/usb, no usbcore in its modules tree or built in" \
	sh -c "[ ! -e /sys/bus/usb ] && ! find /lib/modules/$KVER -name 'usbcore.ko*' | grep -q . && ! grep -q '/usbcore.ko\$' /lib/modules/$KVER/modules.builtin"
run apt-get install -y --no-install-recommends /var/lib/kvc-e2e/kvc_*.deb
run dpkg -i "$hl/xz-utils.deb"
check "kvc installed from its .deb" sh -c "[ \"\$(command -v kvc)\" = /usr/bin/kvc ]"
t=$(ms)
for archive in /var/lib/kvc-e2e/images/*.tar; do podman load -q -i "$archive" 2>&1 | show; done
check "the usbip-source image loaded from podman save ($(($(ms) - t)) ms)" podman image exists "$image"
install -m 644 "$hl/usbip-source.conf" "$hl/usbip-source.devices" /etc/kvc/
check "the link to the server is up at 10.77.0.2" link_up 10.77.0.2
recipe=$(podman run --rm --network=none "$image" cat /usr/lib/kvc/recipe 2>&1)
echo "$recipe" | show
check "the image says the header-less recipe built it (linux-source, /boot/config, CRCs from the kernel's modules and vmlinux)" \
	sh -c "printf '%s\n' \"\$1\" | grep -q '^header-less recipe: $KVER from linux-source-[0-9.]* [^ ]*, config /boot/config-$KVER and [0-9]* symbol CRCs from the modules of linux-image-.*and those of its vmlinux'" - "$recipe"
check "... and none of $added is loaded before the start" none_of_them

# Issue 23's importing side: the server is a peer of this host's tunnel, which the service brings up.
say "kvc usbip peer add server (its key, tunnel address 10.232.0.1, endpoint 10.77.0.1:51820); [tunnel] in usbip-source.devices"
added_peer=$(kvc usbip peer add server --public-key "$(cat "$hl/wg-server.pub")" --address 10.232.0.1 --endpoint 10.77.0.1:51820 2>&1)
echo "$added_peer" | show
check "kvc usbip peer add: the server added, with this host's public key (the one in kvc's key folder) shown to give it" \
	sh -c "printf '%s\n' \"\$1\" | grep -qxF \"this host's public key (give it to server): \$(cat $hl/wg-client.pub)\" && kvc usbip peer list | grep -q '^server'" - "$added_peer"
capture_on() { tcpdump -Z root -i "$dev" -U -w /tmp/link.pcap >/tmp/tcpdump.txt 2>&1 & capture=$!; wait_s 20 grep -q listening /tmp/tcpdump.txt; }
capture_on

say "systemctl start kvc@usbip-source"
t=$(ms)
run systemctl start kvc@usbip-source
say "started in $(($(ms) - t)) ms"
journal | show
check "kvc@usbip-source is active and the kernel has $added loaded" started
abi=$(journal | grep 'ABI check: ' | tail -n 1)
check "... after kvc's ABI check passed (${abi#*ABI check: })" \
	sh -c "printf '%s\n' \"\$1\" | grep -Eq 'ABI check: [1-9][0-9]* modules, .*vermagic equal, [1-9][0-9]* symbol versions equal'" - "$abi"
check "... loaded from the image without building" sh -c "! journalctl -b -u kvc@usbip-source -o cat | grep -qi 'building'"
dmesg | grep -iE 'usb|vhci|usbip' | tail -n 20 | show
check "... and the kernel logged nothing against them (no ABI rejection in dmesg)" sh -c "[ -z \"\$1\" ]" - "$(rejections)"
check "/sys/bus/usb is there now, with vhci_hcd's controllers" sh -c "[ -d /sys/bus/usb ] && ls /sys/devices/platform | grep -q '^vhci_hcd'"
attached_disk() { vhci_disk >/dev/null; }
check "the service attached the server's disk by itself (usbip-source.devices: import by 46f4:0001)" wait_s 600 attached_disk
disk=$(vhci_disk)
if [ -n "$disk" ]; then journal | grep -E 'import' | show; else journal | tail -n 30 | show; dmesg | grep -i -E 'vhci|usbip' | tail -n 15 | show; fi
run kvc status usbip-source
check "kvc status says the import is attached" sh -c "kvc status usbip-source | grep -q 'import disk: 46f4:0001 from 10.232.0.1:3240: attached '"
check "... and shows the tunnel the service brought up (kvcwg 10.232.0.2/24) and its peer" sh -c "kvc status usbip-source > /tmp/status.txt &&
	grep -qF \"tunnel kvcwg: 10.232.0.2/24, UDP port 51820, this host's public key \$(cat $hl/wg-client.pub)\" /tmp/status.txt &&
	grep -qF 'peer server: 10.232.0.1, at 10.77.0.1:51820' /tmp/status.txt"
wg show kvcwg 2>&1 | show
check "kvcwg was made by the service: the server its peer, a handshake done, the journal says so" sh -c "
	wg show kvcwg peers | grep -qxF \"\$(cat $hl/wg-server.pub)\" && wg show kvcwg latest-handshakes | awk '{ exit !(\$2 > 0) }' &&
	journalctl -b -u kvc@usbip-source -o cat | grep -q 'WireGuard: kvcwg up, 10.232.0.2/24, UDP port 51820'"
t=$(ms)
actual=$(sha256sum <"/dev/${disk:-none}" | cut -d' ' -f1)
check "the data read through USB/IP from /dev/${disk:-none} is the server's disk ($(($(ms) - t)) ms for 8 MiB; sha256 ${actual:-none})" [ "$actual" = "$(cat "$hl/disk.sha256")" ]
sleep 1; kill "$capture"; wait "$capture" 2>/dev/null; show </tmp/tcpdump.txt
in_clear() { tcpdump -r /tmp/link.pcap -nn 'tcp port 3240' 2>/dev/null | wc -l; }
sealed() { [ "$(tcpdump -r /tmp/link.pcap -nn 'udp port 51820' 2>/dev/null | wc -l)" -gt 100 ] && [ "$(in_clear)" -eq 0 ]; }
check "on the link, the import and the read were WireGuard's UDP only: $(tcpdump -r /tmp/link.pcap -nn 'udp port 51820' 2>/dev/null | wc -l) packets, $(in_clear) of USB/IP's TCP in clear" sealed
ports=$(kvc wrapper usbip-source "$KVER" usbip port 2>&1)
echo "$ports" | show
check "usbip port (the instance's tools container) shows the import on a vhci port, and names its server (kvc's record of its own attach)" sh -c "printf '%s' \"\$1\" | grep -q 'Port in Use' && printf '%s' \"\$1\" | grep -q 'usbip://10.232.0.1:3240/'" - "$ports"

# The reattach through the tunnel: the connection is cut on this side (ss -K destroys the TCP
# socket vhci_hcd holds, as a network loss ends it); the service sees the drop and attaches the
# disk again by itself, through kvcwg, with nothing of USB/IP in clear on the link.
say "the import's connection cut (ss -K): the service attaches the disk again, through the tunnel"
rm -f /tmp/tcpdump.txt
capture_on
reconnects() { kvc status usbip-source 2>/dev/null | sed -n 's/^ *import disk: .*: attached .*, reconnects \([0-9]*\)$/\1/p'; }
before=$(reconnects)
t=$(ms)
killed=$(ss -K -t state established dst 10.232.0.1 dport = :3240 2>&1)
echo "$killed" | show
check "ss -K closed the import's connection to 10.232.0.1:3240 (reconnects before: ${before:-none})" sh -c "[ -n '$before' ] && printf '%s' \"\$1\" | grep -q '10.232.0.1:3240'" - "$killed"
reattached() { [ "$(reconnects)" = "$((before + 1))" ] && vhci_disk >/dev/null; }
wait_s 180 reattached; st=$?
check "the service saw the drop and attached the disk again by itself (reconnects $((before + 1)); $(($(ms) - t)) ms after the cut)" [ "$st" = 0 ]
journal | grep -E 'import disk' | tail -n 4 | show
disk=$(vhci_disk)
actual=$(sha256sum <"/dev/${disk:-none}" | cut -d' ' -f1)
check "... and the data read again from /dev/${disk:-none} is the server's disk" [ "$actual" = "$(cat "$hl/disk.sha256")" ]
sleep 1; kill "$capture"; wait "$capture" 2>/dev/null
check "on the link, the reattach and the read were WireGuard's UDP only: $(tcpdump -r /tmp/link.pcap -nn 'udp port 51820' 2>/dev/null | wc -l) packets, $(in_clear) of USB/IP's TCP in clear" sealed

say "systemctl stop kvc@usbip-source"
t=$(ms)
run systemctl stop kvc@usbip-source
say "stopped in $(($(ms) - t)) ms"
journal | tail -n 8 | show
check "the stop detached the disk and unloaded them all" detached_and_stopped
check "... and took kvcwg down" sh -c "! ip link show dev kvcwg >/dev/null 2>&1 && journalctl -b -u kvc@usbip-source -o cat | grep -q 'WireGuard: kvcwg taken down'"
check "... and the kernel logged nothing against them" sh -c "[ -z \"\$1\" ]" - "$(rejections)"
echo "KVC-E2E: DONE pass=$pass fail=$fail"
