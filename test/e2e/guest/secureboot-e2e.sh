#!/bin/sh
# Runs inside the end-to-end guest booted under UEFI Secure Boot (run-guest.sh --secure-boot:
# OVMF with Microsoft's keys, shim, Debian's signed GRUB and kernel), as on an Azure Trusted Launch
# VM: the kernel is locked down and loads only modules signed by a key it trusts. The user's path
# from no key (docs/secure-boot.md): boot 1 starts with no key, makes it (kvc key create), sees kvc
# refuse an unsigned image (usbip) and one signed with someone else's key (usbipfx), both before
# touching the kernel, and queues its key (kvc key enroll). Boot 3, after MokManager: the usbipsb
# image the host built with the key boot 1 made (standing in for the host's own build), loaded by
# systemctl start kvc@usbipsb, and the USB/IP round trip with the emulated USB disk.
# Prints "KVC-E2E: PASS|FAIL <step>", "KVC-E2E: ---- TIME <step>: … took N ms" and
# "KVC-E2E: DONE pass=N fail=M".
. /usr/local/libexec/kvc-e2e-checks.sh
none_in() { for m in "$@"; do [ ! -e "/sys/module/$m" ] || return 1; done; }
# Runs a step of the user's path (NAME CMD…), shown; sets out, status and took (ms), and prints
# "TIME NAME: CMD… took N ms" for run-secureboot.sh's summary.
timed() {
	name=$1; shift
	echo "  | # $*"
	t=$(ms)
	out=$("$@" 2>&1); status=$?
	took=$(($(ms) - t))
	echo "$out" | show
	say "TIME $name: $* took $took ms"
}
# kvc key status's output matches every one of these patterns (grep, one line each).
status_says() {
	out=$(kvc key status 2>&1) || return 1
	for pattern in "$@"; do printf '%s\n' "$out" | grep -q -- "$pattern" || return 1; done
}
say "guest kernel $KVER under UEFI Secure Boot"
# Boot 1 runs the refusals and queues kvc's key (kvc key enroll); the host then drives MokManager
# (boot 2, no OS); boot 3 sees this marker and checks the key is trusted and the modules load.
enrolled=/var/lib/kvc-e2e/mok-queued
if [ -e "$enrolled" ]; then
	say "boot 3: after MokManager enrolled the key this guest made"
	echo "  | # kvc key status"
	kvc key status 2>&1 | show
	check "kvc key status: the kernel trusts kvc's key now, and it is in the MOK list" status_says '^kernel trusts it: yes' '^MOK list: *enrolled'
	dmesg | grep -Ei 'machine|MOK|kvc module signing' | head -n 6 | show
	check "kvc check: the signing key is trusted" sh -c "kvc check 2>&1 | grep -q '^ok    signing key: CN=kvc module signing key.*the running kernel trusts it'"
	# The image the host built between boot 1 and this boot, signed with the key boot 1 made (its
	# build stands in for the host's own: a real host builds in place; this guest has no network
	# and TCG is too slow for a build). Shipped as an image archive, as every image of these tests.
	t=$(ms)
	podman load -q -i /var/lib/kvc-e2e/signed/usbipsb.tar 2>&1 | show
	# Key ids compared as hex digits only (no colons, lower case, no leading zeros).
	hexid() { tr -d ': ' | tr A-F a-f | sed 's/^0*//'; }
	keyid=$(kvc key status 2>/dev/null | sed -n 's/^signing key:.*(key id \([0-9a-fA-F:]*\)).*/\1/p' | head -n 1 | hexid)
	signer=$(podman image inspect --format '{{index .Labels "io.kvc.signer"}}' "localhost/usbipsb-1.0.0:$TAG" 2>/dev/null)
	echo "  | io.kvc.signer: $signer"
	labelid=$(printf '%s' "$signer" | sed -n 's/^keyid=\([0-9a-fA-F:]*\);.*/\1/p' | hexid)
	check "the usbipsb image built on the host is signed with the key this guest made (key id ${keyid:-none}; loaded in $(($(ms) - t)) ms)" [ -n "$keyid" ] && [ "$keyid" = "$labelid" ]
	say "systemctl start kvc@usbipsb (the service, under this guest's systemd)"
	t=$(ms)
	run systemctl start kvc@usbipsb
	took=$(($(ms) - t))
	say "TIME boot 3 load: systemctl start kvc@usbipsb took $took ms"
	journalctl -u kvc@usbipsb --no-pager -o cat 2>&1 | show
	sb_active() { [ "$(systemctl is-active kvc@usbipsb)" = active ] && loaded; }
	check "kvc@usbipsb is active, its signed modules loaded under lockdown: usbip_core, usbip_host, vhci_hcd (started in $took ms)" sb_active
	check "the service found the image up to date (same signer): no build" sh -c "! journalctl -u kvc@usbipsb -o cat | grep -qiE 'building|rebuilding'"
	check "the kernel took the signature (no rejection, not tainted by an unsigned module)" sh -c "! dmesg | grep -Eqi 'module verification failed|Key was rejected|Loading of unsigned module' && [ \$(( \$(cat /proc/sys/kernel/tainted) & 8192 )) -eq 0 ]"
	check "vhci_hcd is there: /sys/devices/platform/vhci_hcd.0" test -d /sys/devices/platform/vhci_hcd.0
	say "the USB/IP round trip, through usbipsb's host commands (kvc host-commands usbipsb)"
	run kvc host-commands usbipsb
	wait_for test -s /run/kvc/usbipsb/tools.pid
	t=$(ms)
	run usbipd -D
	wait_for listening
	run usbip list -l
	busid=$(stick_busid)
	check "usbip list -l shows the emulated USB disk (busid ${busid:-none})" sh -c "usbip list -l | grep -q 'busid ${busid:-none} '"
	run usbip bind -b "$busid"
	wait_for test -e "/sys/bus/usb/drivers/usbip-host/$busid"
	check "usbip bind: the disk is bound to usbip-host" test -e "/sys/bus/usb/drivers/usbip-host/$busid"
	usbip_round_trip 127.0.0.1 "$busid" "loopback"
	say "TIME round trip: usbipd, list, bind, attach, 8 MiB read, detach took $(($(ms) - t)) ms"
	plain_attach_ms=$attach_ms plain_read_ms=$rt_read_ms
	# SKIPPED unless run-secureboot.sh ran with KVC_E2E_SB_WIREGUARD=1 (which brings wireguard-tools
	# and tcpdump): these steps have not yet been seen passing in a whole run (the first one stopped
	# at boot 2, MokManager's prompt timing out under load), so CI does not run them yet.
	if ls /var/lib/kvc-e2e/payload/wireguard-tools_*.deb >/dev/null 2>&1; then
		# Issue 23's encrypted transport: this guest exports, an importer in network namespace kvcimp
		# (joined by a veth pair, 10.231.0.1 here, 10.231.0.2 there) attaches through a WireGuard
		# tunnel (10.232.0.1 here, 10.232.0.2 there); kvc's table admits 3240/3241 only on the tunnel's
		# interface from the peer. The wg/ip steps are those kvc's plan renders (src/usbip/wireguard-plan.ts,
		# with the namespace's key paths) and the nft text is its output to the letter (a unit test
		# compares them); tcpdump on the veth is the eavesdropper.
		say "WireGuard: the importer in network namespace kvcimp, over a veth pair, then through a tunnel"
		check "wg and tcpdump are installed (from the payload: Debian's wireguard-tools and tcpdump)" sh -c "command -v wg && command -v tcpdump"
		serial=$(cat "/sys/bus/usb/devices/$busid/serial" 2>/dev/null)
		echo "  | the disk's serial: ${serial:-none}"
		run modprobe veth
		run modprobe wireguard
		check "wireguard.ko (Debian's signed module) loads under lockdown; the kernel not tainted" sh -c "[ -e /sys/module/wireguard ] && [ \$(( \$(cat /proc/sys/kernel/tainted) & 8192 )) -eq 0 ]"
		run ip netns add kvcimp
		run ip link add kvcv0 type veth peer name kvcv1 netns kvcimp
		run ip addr add 10.231.0.1/24 dev kvcv0
		run ip link set kvcv0 up
		run ip -n kvcimp link set lo up
		run ip -n kvcimp addr add 10.231.0.2/24 dev kvcv1
		run ip -n kvcimp link set kvcv1 up
		pid=$(cut -d' ' -f1 /run/kvc/usbipsb/tools.pid)
		# usbip attach from the namespace: the tools container's usbip, in its mount namespace, with
		# the namespace's network (kvc's usbip command joins the container's, which is the host's).
		ns_usbip="ip netns exec kvcimp nsenter -t $pid -m -- /usr/sbin/usbip"
		# The eavesdropper: everything on the veth, into /tmp/NAME.pcap.
		capture_start() {
			tcpdump -Z root -i kvcv0 -U -w "/tmp/$1.pcap" >"/tmp/tcpdump-$1.txt" 2>&1 &
			capture=$!
			wait_s 20 grep -q listening "/tmp/tcpdump-$1.txt"
		}
		capture_stop() { sleep 1; kill "$capture"; wait "$capture"; show <"/tmp/tcpdump-$1.txt"; }
		# kvc's table off while the plain attach is made (the service may have put one in place).
		printf 'table inet kvc_usbip {\n}\ndelete table inet kvc_usbip\n' | nft -f -
		say "plain TCP from the namespace (10.231.0.2 to 10.231.0.1), captured on the veth"
		capture_start plain
		USBIP_ATTACH=$ns_usbip usbip_round_trip 10.231.0.1 "$busid" "plain TCP from namespace kvcimp"
		ns_plain_attach_ms=$attach_ms ns_plain_read_ms=$rt_read_ms
		capture_stop plain
		# What an eavesdropper looks for: USB/IP's OP_REQ_IMPORT header (version 1.1.1, code 0x8003),
		# the bus id, the disk's serial in ASCII (the exporter's reply) or UTF-16LE (its string descriptor).
		in_clear() {
			/usr/local/lib/kvc/node -e '
				const [file, busid, serial] = process.argv.slice(1);
				const b = require("fs").readFileSync(file);
				const found = [];
				if (b.indexOf(Buffer.from("01118003", "hex")) >= 0) found.push("OP_REQ_IMPORT header");
				if (b.indexOf(Buffer.from(busid)) >= 0) found.push("bus id " + busid);
				if (serial && b.indexOf(Buffer.from(serial)) >= 0) found.push("serial (ASCII)");
				if (serial && b.indexOf(Buffer.from(serial, "utf16le")) >= 0) found.push("serial (UTF-16LE)");
				console.log(`${b.length} bytes captured; in clear: ${found.join(", ") || "nothing"}`);
				process.exit(found.includes("OP_REQ_IMPORT header") ? 0 : 1);' "$1" "$busid" "$serial"
		}
		in_clear /tmp/plain.pcap | show
		check "the plain attach's capture on the veth shows the USB/IP header in clear (the attack works without the tunnel)" in_clear /tmp/plain.pcap
		say "the tunnel: keys by wg genkey (root's only), interface kvcwg on both sides"
		mkdir -m 700 -p /run/kvc-wg
		(umask 077; wg genkey >/run/kvc-wg/exporter.key; wg genkey >/run/kvc-wg/importer.key)
		exporter_pub=$(wg pubkey </run/kvc-wg/exporter.key) importer_pub=$(wg pubkey </run/kvc-wg/importer.key)
		t=$(ms)
		run ip link add kvcwg type wireguard
		run wg set kvcwg listen-port 51820 private-key /run/kvc-wg/exporter.key peer "$importer_pub" allowed-ips 10.232.0.2/32
		run ip addr add 10.232.0.1/24 dev kvcwg
		run ip link set kvcwg up
		run ip -n kvcimp link add kvcwg type wireguard
		run ip netns exec kvcimp wg set kvcwg private-key /run/kvc-wg/importer.key peer "$exporter_pub" allowed-ips 10.232.0.1/32 endpoint 10.231.0.1:51820
		run ip -n kvcimp addr add 10.232.0.2/24 dev kvcwg
		run ip -n kvcimp link set kvcwg up
		cat >/tmp/kvc-wg.nft <<'NFT'
table inet kvc_usbip {
}
delete table inet kvc_usbip
table inet kvc_usbip {
	set peers4 {
		type ipv4_addr
		elements = { 10.232.0.2 }
	}
	set peers6 {
		type ipv6_addr
	}
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport { 3240, 3241 } jump guard
	}
	chain guard {
		iif "lo" accept
		iifname "kvcwg" ip saddr @peers4 accept
		iifname "kvcwg" ip6 saddr @peers6 accept
		tcp flags syn limit rate 10/minute burst 20 packets log prefix "kvc-usbip refused: " level info
		counter drop
	}
}
NFT
		run nft -f /tmp/kvc-wg.nft
		say "TIME tunnel up (two interfaces, keys, nft) took $(($(ms) - t)) ms"
		wg show kvcwg 2>&1 | sed 's/private key: .*/private key: (hidden)/' | show
		check "kvcwg is up with the importer as its one peer (wg show)" sh -c "wg show kvcwg peers | grep -qxF '$importer_pub'"
		say "the round trip through the tunnel (10.232.0.2 to 10.232.0.1), captured on the veth"
		capture_start wg
		USBIP_ATTACH=$ns_usbip usbip_round_trip 10.232.0.1 "$busid" "through WireGuard"
		wg_attach_ms=$attach_ms wg_read_ms=$rt_read_ms
		say "reattach through the tunnel"
		USBIP_ATTACH=$ns_usbip usbip_round_trip 10.232.0.1 "$busid" "reattach through WireGuard"
		capture_stop wg
		in_clear /tmp/wg.pcap | show
		check "the tunnel's capture on the veth: WireGuard's UDP only, no USB/IP header, bus id or serial in clear" sh -c "
			[ \$(stat -c %s /tmp/wg.pcap) -gt 20000 ] &&
			[ \"\$(tcpdump -r /tmp/wg.pcap -nn 'udp port 51820' 2>/dev/null | wc -l)\" -gt 0 ] &&
			[ \"\$(tcpdump -r /tmp/wg.pcap -nn 'tcp' 2>/dev/null | wc -l)\" -eq 0 ] &&
			! grep -aqF \"$busid\" /tmp/wg.pcap && { [ -z \"$serial\" ] || ! grep -aqF \"$serial\" /tmp/wg.pcap; } &&
			! od -An -tx1 -v /tmp/wg.pcap | tr -d ' \n' | grep -q 01118003"
		say "strangers: the veth's own address and one without a peer cannot reach 3240/3241"
		run ip -n kvcimp addr add 10.231.0.3/24 dev kvcv1
		reach() {
			ip netns exec kvcimp /usr/local/lib/kvc/node -e '
				const s = require("net").connect({ host: process.argv[1], port: +process.argv[2], localAddress: process.argv[3] });
				s.on("connect", () => { console.log("connected"); process.exit(0); });
				s.on("error", (e) => { console.log(e.code); process.exit(1); });
				setTimeout(() => { console.log("no answer in 5 s"); process.exit(1); }, 5000);' "$@"
		}
		for from in 10.231.0.2 10.231.0.3; do
			for port in 3240 3241; do
				out=$(reach 10.231.0.1 "$port" "$from"); st=$?
				check "from $from (outside the tunnel) to 10.231.0.1:$port: refused ($out)" [ "$st" -ne 0 ]
			done
		done
		out=$(reach 10.232.0.1 3240 10.232.0.2); st=$?
		check "from the peer 10.232.0.2 through the tunnel to 10.232.0.1:3240: connected ($out)" [ "$st" -eq 0 ]
		printf 'table inet kvc_usbip {\n}\ndelete table inet kvc_usbip\n' | nft -f -
		run ip link del kvcwg
		run ip netns del kvcimp
		shred -u /run/kvc-wg/exporter.key /run/kvc-wg/importer.key 2>/dev/null || rm -f /run/kvc-wg/*.key
		say "TIME WireGuard vs plain TCP (attach, 8 MiB O_DIRECT read, ms): loopback $plain_attach_ms/$plain_read_ms, namespace plain $ns_plain_attach_ms/$ns_plain_read_ms, namespace WireGuard $wg_attach_ms/$wg_read_ms"
	else
		say "SKIP WireGuard steps: run-secureboot.sh without KVC_E2E_SB_WIREGUARD=1"
	fi
	run usbip unbind -b "$busid"
	pkill -x usbipd
	t=$(ms)
	run systemctl stop kvc@usbipsb
	sb_stopped() { [ "$(systemctl is-active kvc@usbipsb)" = inactive ] && none_loaded; }
	check "systemctl stop kvc@usbipsb: inactive, usbip_core, usbip_host, vhci_hcd unloaded ($(($(ms) - t)) ms)" sb_stopped
	check "no error-priority lines in the unit's journal" sh -c "[ -z \"\$(journalctl -u kvc@usbipsb -p err -o cat)\" ]"
	echo "  | # kvc load usbipfx $KVER   (signed with someone else's key, which the kernel does not trust)"
	out=$(kvc load usbipfx "$KVER" 2>&1); status=$?
	echo "$out" | show
	check "kvc load of modules signed with a key that is not kvc's is refused (77), naming the key; nothing loaded" sh -c "
		[ $status -eq 77 ] && printf '%s' \"\$1\" | grep -q \"someone else's module key\" &&
		printf '%s' \"\$1\" | grep -q 'is not enrolled, and it is not the key kvc signs with now'" - "$out"
	check "after the refusal: no usbip module loaded, and the kernel logged no rejection" sh -c "
		for m in usbip_core usbip_host vhci_hcd; do [ ! -e /sys/module/\$m ] || exit 1; done
		! dmesg | grep -Eqi 'module verification failed|Key was rejected|Loading of unsigned module'"
	echo "KVC-E2E: DONE pass=$pass fail=$fail"
	sync
	systemctl poweroff --force --force
	exit 0
fi
sb=$(od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c 2>/dev/null | awk '{ print $5 }')
check "the firmware booted with Secure Boot on (EFI SecureBoot variable: ${sb:-absent})" [ "${sb:-0}" = 1 ]
lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null)
check "the kernel is locked down (${lockdown:-no lockdown file})" sh -c "printf '%s' '$lockdown' | grep -Eq '\[(integrity|confidentiality)\]'"
dmesg | grep -Ei 'secure ?boot|locked down|Loaded X.509' | head -n 8 | show
t=$(ms)
for archive in /var/lib/kvc-e2e/images/*.tar; do podman load -q -i "$archive" 2>&1 | show; done
check "images loaded from podman save ($(($(ms) - t)) ms)" sh -c "podman image exists localhost/usbip-1.0.0:$TAG && podman image exists localhost/usbipfx-1.0.0:$TAG"

# The user's path starts here: no key anywhere on this machine.
echo "  | # kvc key status   (no key yet)"
kvc key status 2>&1 | show
no_key() { [ ! -e /var/lib/kvc/keys ] && status_says '^signing key: *none yet' 'run kvc key create, then kvc key enroll'; }
check "no key at first: no /var/lib/kvc/keys, and kvc key status says none yet and to run kvc key create, then kvc key enroll" no_key
timed "key create" kvc key create
check "kvc key create made kvc's own key in /var/lib/kvc/keys, root's only (exit $status, $took ms)" sh -c "
	[ $status -eq 0 ] && [ -s /var/lib/kvc/keys/signing-key.pem ] && [ -s /var/lib/kvc/keys/signing-cert.der ] &&
	[ \$(stat -c %a /var/lib/kvc/keys) = 700 ] && [ \$(stat -c %a /var/lib/kvc/keys/signing-key.pem) = 600 ]"

echo "  | # kvc key status"
kvc key status 2>&1 | show
check "kvc key status: Secure Boot on, unsigned modules refused, kvc's key not trusted by this kernel" status_says '^Secure Boot: *on' '^unsigned modules: refused' '^kernel trusts it: no'

echo "  | # kvc check"
kvc check 2>&1 | show
check "kvc check fails the signing key: the running kernel does not trust it" sh -c "kvc check 2>&1 | grep -q '^FAIL  signing key: CN=kvc module signing key.*does not trust it'"

echo "  | # kvc load usbip $KVER   (its image unsigned)"
out=$(kvc load usbip "$KVER" 2>&1); status=$?
echo "$out" | show
check "kvc load of the unsigned image is refused (77) before loading anything, saying the modules are not signed and the kernel is locked down" sh -c "
	[ $status -eq 77 ] && printf '%s' \"\$1\" | grep -q 'not signed' && printf '%s' \"\$1\" | grep -q 'locked down'" - "$out"

# The image signed with a key the kernel does not trust: someone else's, made on the host and never
# enrolled (this guest's own key exists only from a minute ago, so no image signed with it can be
# here before it is enrolled; the "run kvc key enroll" remedy for kvc's own key is in the unit tests).
echo "  | # kvc load usbipfx $KVER   (signed with someone else's key, not enrolled)"
out=$(kvc load usbipfx "$KVER" 2>&1); status=$?
echo "$out" | show
check "kvc load of the image signed with a key the kernel does not trust (made on the host, not enrolled) is refused (77), naming the key" sh -c "
	[ $status -eq 77 ] && printf '%s' \"\$1\" | grep -q \"someone else's module key\" &&
	printf '%s' \"\$1\" | grep -q 'is not enrolled'" - "$out"
check "nothing was loaded: no usbip_core, usbip_host, vhci_hcd in /sys/module" none_in usbip_core usbip_host vhci_hcd
check "the kernel logged no module signature rejection (kvc refused first)" sh -c "! dmesg | grep -Eqi 'module verification failed|Key was rejected|Loading of unsigned module'"

say "queueing kvc's key for MokManager: kvc key enroll"
dpkg -i /var/lib/kvc-e2e/payload/*.deb 2>&1 | tail -n 3 | show
check "mokutil and keyctl are installed (from the payload: Debian's packages)" sh -c "command -v mokutil && command -v keyctl"
# kvc's manual pages, as make install put them (man-db from the payload too).
check "man kvc, man 5 kvc.conf and man 5 kvc-devices show kvc's pages (installed by make install)" sh -c "
	MANPAGER=cat man kvc 2>/dev/null | grep -q 'kvc build' &&
	MANPAGER=cat man 5 kvc.conf 2>/dev/null | grep -q 'KMOD_NAMES' &&
	MANPAGER=cat man 5 kvc-devices 2>/dev/null | grep -qi 'export'"
MANPAGER=cat man kvc 2>/dev/null | head -n 8 | show
timed enroll kvc key enroll
password=$(printf '%s\n' "$out" | sed -n 's/^The password: //p')
check "kvc key enroll queued the key with a one-time password and named MokManager's steps (exit $status, $took ms)" sh -c "
	[ $status -eq 0 ] && [ -n '$password' ] && printf '%s' \"\$1\" | grep -q 'queued for enrolment' && printf '%s' \"\$1\" | grep -q 'Enroll MOK'" - "$out"
check "kvc key status: waiting for MokManager at the next boot" sh -c "kvc key status 2>&1 | grep -q '^MOK list: *waiting for MokManager'"
# For the host's MokManager driver (a person would read it off the screen).
echo "KVC-E2E: MOK-PASSWORD $password"
touch "$enrolled"
echo "KVC-E2E: DONE pass=$pass fail=$fail"
sync
systemctl poweroff --force --force
