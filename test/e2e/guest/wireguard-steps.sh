# Sourced by usbip-e2e.sh (boot 1, after its USB/IP round trip): USB/IP through the WireGuard
# tunnel that kvc@usbip brings up itself (issue 23). This guest exports the USB disk; the importer
# is a network namespace, kvcimp, joined by a veth pair (10.231.0.1 here, 10.231.0.2 there), with a
# WireGuard interface of its own made by hand (the importer's side is not kvc's here). tcpdump on
# the veth is the eavesdropper; a second address on the veth, without a peer, the stranger.
# Needs wg and tcpdump in the guest root (build-guest.sh) and the kernel's wireguard.ko.

# The eavesdropper: everything on the veth, into /tmp/NAME.pcap.
wg_capture_start() {
	tcpdump -Z root -i kvcv0 -U -w "/tmp/$1.pcap" >"/tmp/tcpdump-$1.txt" 2>&1 &
	wg_capture=$!
	wait_s 20 grep -q listening "/tmp/tcpdump-$1.txt"
}
wg_capture_stop() { sleep 1; kill "$wg_capture"; wait "$wg_capture"; show <"/tmp/tcpdump-$1.txt"; }
# What an eavesdropper looks for in a capture: USB/IP's OP_REQ_IMPORT header (version 1.1.1, code
# 0x8003, status 0), the bus id as USB/IP sends it (NUL-padded: the bare 3 bytes "2-2" turn up by
# chance in megabytes of ciphertext), the disk's serial in ASCII (the exporter's reply) or UTF-16LE
# (its string descriptor). Says what it found; succeeds when the header is there.
wg_in_clear() {
	/usr/lib/kvc/node -e '
		const [file, busid, serial] = process.argv.slice(1);
		const b = require("fs").readFileSync(file);
		const found = [];
		if (b.indexOf(Buffer.from("0111800300000000", "hex")) >= 0) found.push("OP_REQ_IMPORT header");
		if (b.indexOf(Buffer.concat([Buffer.from(busid), Buffer.alloc(4)])) >= 0) found.push("bus id " + busid);
		if (serial && b.indexOf(Buffer.from(serial)) >= 0) found.push("serial (ASCII)");
		if (serial && b.indexOf(Buffer.from(serial, "utf16le")) >= 0) found.push("serial (UTF-16LE)");
		console.log(`${b.length} bytes captured; in clear: ${found.join(", ") || "nothing"}`);
		process.exit(found.includes("OP_REQ_IMPORT header") ? 0 : 1);' "$1" "$wg_busid" "$wg_serial"
}
# The tunnel's capture: big enough to hold the reads, WireGuard's UDP and nothing else, and none
# of what wg_in_clear looks for.
wg_sealed() {
	[ "$(stat -c %s /tmp/wg.pcap)" -gt 20000 ] &&
		[ "$(tcpdump -r /tmp/wg.pcap -nn 'udp port 51820' 2>/dev/null | wc -l)" -gt 0 ] &&
		[ "$(tcpdump -r /tmp/wg.pcap -nn 'not udp port 51820 and not arp and not icmp6' 2>/dev/null | wc -l)" -eq 0 ] &&
		wg_in_clear /tmp/wg.pcap | grep -q 'in clear: nothing$'
}
# A TCP connection from the namespace (from address $3) to $1:$2: "connected", or why not.
wg_reach() {
	ip netns exec kvcimp /usr/lib/kvc/node -e '
		const s = require("net").connect({ host: process.argv[1], port: +process.argv[2], localAddress: process.argv[3] });
		s.on("connect", () => { console.log("connected"); process.exit(0); });
		s.on("error", (e) => { console.log(e.code); process.exit(1); });
		setTimeout(() => { console.log("no answer in 5 s"); process.exit(1); }, 5000);' "$@"
}
# usbip from the namespace: the running tools container's usbip (its pid read anew: a restart
# makes another), in its mount namespace, with the namespace's network (kvc's usbip command joins
# the container's, which is the host's).
wg_tools_pid() { cut -d' ' -f1 /run/kvc/usbip/tools.pid; }
wg_ns_usbip() { ip netns exec kvcimp nsenter -t "$(wg_tools_pid)" -m -- /usr/sbin/usbip "$@"; }
# The service exports the disk: bound to usbip-host, usbipd listening.
wg_exported() { [ -e "/sys/bus/usb/drivers/usbip-host/$wg_busid" ] && listening; }
wg_devices() { printf '%s\n' "$@" >/etc/kvc/usbip.devices; }

wireguard_steps() {
	wg_started=$(ms)
	say "W. USB/IP through WireGuard, the tunnel brought up by kvc@usbip ([tunnel] in /etc/kvc/usbip.devices); the importer in network namespace kvcimp over a veth pair"
	check "wg and tcpdump are in the guest (Debian's wireguard-tools and tcpdump)" sh -c "command -v wg >/dev/null && command -v tcpdump >/dev/null"
	wg_busid=$(stick_busid)
	wg_serial=$(cat "/sys/bus/usb/devices/$wg_busid/serial" 2>/dev/null)
	echo "  | the disk: bus id $wg_busid, serial ${wg_serial:-none}"
	run modprobe veth
	run ip netns add kvcimp
	run ip link add kvcv0 type veth peer name kvcv1 netns kvcimp
	run ip addr add 10.231.0.1/24 dev kvcv0
	run ip link set kvcv0 up
	run ip -n kvcimp link set lo up
	run ip -n kvcimp addr add 10.231.0.2/24 dev kvcv1
	run ip -n kvcimp link set kvcv1 up

	say "W1. the tunnel: the importer's key (wg genkey), kvc usbip peer add imp, [tunnel] in the devices file, systemctl start kvc@usbip"
	mkdir -m 700 -p /run/kvc-wg
	(umask 077; wg genkey >/run/kvc-wg/importer.key)
	wg_imp_pub=$(wg pubkey </run/kvc-wg/importer.key)
	echo "  | # kvc usbip peer add imp --public-key $wg_imp_pub --address 10.232.0.2"
	wg_added=$(kvc usbip peer add imp --public-key "$wg_imp_pub" --address 10.232.0.2 2>&1)
	echo "$wg_added" | show
	wg_exp_pub=$(echo "$wg_added" | sed -n "s/^this host's public key (give it to imp): //p")
	check "kvc usbip peer add: the peer added, this host's public key shown" sh -c "[ -n '$wg_exp_pub' ] && kvc usbip peer list | grep -q imp"
	# 10.231.0.2 too, for now: the exporter lets it attach, and W2 shows what the tunnel's guard stops.
	wg_devices '[tunnel]' 'address = 10.232.0.1/24' '' '[export.disk]' 'device = 46f4:0001' 'clients = imp, 10.231.0.2'
	# The unit's journal from here on (a cursor would need an earlier entry, which a first start has not).
	wg_since=@$(($(date +%s) - 1))
	t=$(ms)
	run systemctl start kvc@usbip
	wait_long wg_exported
	wg_start_ms=$(($(ms) - t))
	journalctl -u kvc@usbip --since="$wg_since" -o cat | grep -i 'wireguard\|nftables\|device list' | show
	check "kvc@usbip brought kvcwg up and says so in its journal ($wg_start_ms ms to start and export)" sh -c "
		ip link show dev kvcwg | grep -q 'state UNKNOWN\|UP' &&
		journalctl -u kvc@usbip --since='$wg_since' -o cat | grep -q 'WireGuard: kvcwg up, 10.232.0.1/24, UDP port 51820, this host.s public key $wg_exp_pub; peers: imp (10.232.0.2)'"
	check "kvc@usbip exports the disk (bound to usbip-host, usbipd listening)" wg_exported
	wg show kvcwg 2>&1 | show
	check "... with the peer imp on it (wg show kvcwg peers) and the address 10.232.0.1/24" sh -c "wg show kvcwg peers | grep -qxF '$wg_imp_pub' && ip -4 addr show dev kvcwg | grep -q 'inet 10.232.0.1/24'"
	nft list table inet kvc_usbip 2>&1 | show
	wg_guarded() { nft list table inet kvc_usbip 2>/dev/null | grep -q 'iifname "kvcwg" ip saddr @peers4 accept' && nft list set inet kvc_usbip peers4 | grep -q 'elements = { 10.232.0.2 }'; }
	check "... and kvc's nftables table admits 3240/3241 on kvcwg from 10.232.0.2 only" wg_guarded

	say "W2. the eavesdropper's control: kvc's table taken off by hand, a plain attach from 10.231.0.2 across the veth, captured"
	printf 'table inet kvc_usbip {\n}\ndelete table inet kvc_usbip\n' | nft -f -
	wg_capture_start plain
	USBIP_ATTACH=wg_ns_usbip usbip_round_trip 10.231.0.1 "$wg_busid" "plain TCP from namespace kvcimp"
	wg_plain_attach_ms=$attach_ms wg_plain_read_ms=$rt_read_ms
	wg_capture_stop plain
	wg_in_clear /tmp/plain.pcap | show
	check "the plain attach's capture on the veth has the USB/IP header in clear (the eavesdropper's check can fail)" wg_in_clear /tmp/plain.pcap
	wg_devices '[tunnel]' 'address = 10.232.0.1/24' '' '[export.disk]' 'device = 46f4:0001' 'clients = imp'
	wait_for wg_guarded
	check "clients = imp written: the service made its table anew (the peer only) without a restart" wg_guarded

	run ip -n kvcimp link add kvcwg type wireguard
	run ip netns exec kvcimp wg set kvcwg private-key /run/kvc-wg/importer.key peer "$wg_exp_pub" allowed-ips 10.232.0.1/32 endpoint 10.231.0.1:51820
	run ip -n kvcimp addr add 10.232.0.2/24 dev kvcwg
	run ip -n kvcimp link set kvcwg up

	say "W3. the round trip through the tunnel (10.232.0.2 to 10.232.0.1), and a reattach, captured on the veth"
	wg_capture_start wg
	USBIP_ATTACH=wg_ns_usbip usbip_round_trip 10.232.0.1 "$wg_busid" "through kvc's WireGuard tunnel"
	wg_attach_ms=$attach_ms wg_read_ms=$rt_read_ms
	USBIP_ATTACH=wg_ns_usbip usbip_round_trip 10.232.0.1 "$wg_busid" "reattach through kvc's WireGuard tunnel"
	wg_attach2_ms=$attach_ms wg_read2_ms=$rt_read_ms
	wg_capture_stop wg
	wg_in_clear /tmp/wg.pcap | show
	echo "  | the capture: $(tcpdump -r /tmp/wg.pcap -nn 'udp port 51820' 2>/dev/null | wc -l) WireGuard UDP packets, $(tcpdump -r /tmp/wg.pcap -nn 'tcp' 2>/dev/null | wc -l) TCP packets, $(tcpdump -r /tmp/wg.pcap -nn 'not udp port 51820 and not arp and not icmp6' 2>/dev/null | wc -l) others"
	check "the tunnel's capture on the veth: WireGuard's UDP only, no USB/IP header, bus id or serial in clear" wg_sealed

	say "W4. strangers on the veth: the importer's plain address and 10.231.0.3 (no peer) cannot reach 3240/3241; the peer through the tunnel can"
	run ip -n kvcimp addr add 10.231.0.3/24 dev kvcv1
	for from in 10.231.0.2 10.231.0.3; do
		for port in 3240 3241; do
			out=$(wg_reach 10.231.0.1 "$port" "$from"); st=$?
			check "from $from (outside the tunnel) to 10.231.0.1:$port: refused ($out)" [ "$st" -ne 0 ]
		done
	done
	out=$(timeout 20 ip netns exec kvcimp nsenter -t "$(wg_tools_pid)" -m -- /usr/sbin/usbip attach -r 10.231.0.1 -b "$wg_busid" 2>&1); st=$?
	echo "$out" | show
	check "usbip attach from the namespace to the plain address fails (status $st), and nothing is attached" sh -c "[ $st -ne 0 ] && ! usbip port | grep -q 'Port in Use'"
	out=$(wg_reach 10.232.0.1 3240 10.232.0.2); st=$?
	check "from the peer 10.232.0.2 through the tunnel to 10.232.0.1:3240: connected ($out)" [ "$st" -eq 0 ]
	out=$(wg_reach 10.232.0.1 3241 10.232.0.2); st=$?
	check "... and to the device list on 10.232.0.1:3241: connected ($out)" [ "$st" -eq 0 ]
	check "the kernel logged the stranger's refused connection (journalctl -k: kvc-usbip refused: … SRC=10.231.0.3)" sh -c "journalctl -k -o cat | grep 'kvc-usbip refused: ' | grep -q 'SRC=10.231.0.3'"

	say "W5. the peer taken out of clients while attached: the device is taken back from it"
	run wg_ns_usbip attach -r 10.232.0.1 -b "$wg_busid"
	wait_for rt_attached
	check "attached through the tunnel" rt_attached
	wg_devices '[tunnel]' 'address = 10.232.0.1/24' '' '[export.disk]' 'device = 46f4:0001' 'clients = 10.232.0.9'
	t=$(ms)
	wait_s 60 rt_detached
	wg_revoke_ms=$(($(ms) - t))
	journalctl -u kvc@usbip -n 8 -o cat | show
	check "clients = 10.232.0.9 written: the import from 10.232.0.2 ended, the port free, the disk gone from the vhci bus ($wg_revoke_ms ms)" rt_detached
	check "... and the journal says whose import was cut" sh -c "journalctl -u kvc@usbip --since='$wg_since' -o cat | grep -q '10.232.0.2 is no longer among its clients'"

	say "W6. systemctl stop kvc@usbip: kvcwg and kvc's table taken away"
	run systemctl stop kvc@usbip
	check "kvcwg is gone, kvc's nftables table too, and the journal says so" sh -c "
		! ip link show dev kvcwg >/dev/null 2>&1 && ! nft list table inet kvc_usbip >/dev/null 2>&1 &&
		journalctl -u kvc@usbip --since='$wg_since' -o cat | grep -q 'WireGuard: kvcwg taken down'"
	check "no error-priority lines in the unit's journal since the tunnel's start" sh -c "[ -z \"\$(journalctl -u kvc@usbip --since='$wg_since' -p err -o cat)\" ]"
	run kvc usbip peer remove imp
	rm -f /etc/kvc/usbip.devices /run/kvc-wg/importer.key
	run ip netns del kvcimp
	say "TIME WireGuard vs plain TCP on this guest (attach ms / 8 MiB O_DIRECT read ms): plain $wg_plain_attach_ms/$wg_plain_read_ms, tunnel $wg_attach_ms/$wg_read_ms, tunnel again $wg_attach2_ms/$wg_read2_ms; start with the tunnel $wg_start_ms ms; revoke $wg_revoke_ms ms"
	say "the WireGuard steps took $(($(ms) - wg_started)) ms"
}
