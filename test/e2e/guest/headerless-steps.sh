# Sourced by the kernel-update guest's script (usbip-e2e.sh), with checks.sh's helpers: the
# running kernel as if it had no headers package (issue 21). test/e2e/run.sh builds, on the host
# with kvc, the image of instance usbip-source (host/etc/kvc/usbip/Containerfile.debian-source:
# the kernel's source and /boot/config, the CRCs recovered from its installed modules, no
# linux-headers or linux-kbuild package) for both kernels of the guest, and for the first kernel
# that of usbip-badcrc (test/e2e/guest/usbip-badcrc: the same with one CRC of vhci-hcd.ko changed);
# it ships them in with podman save, and the instances' files in /var/lib/kvc-e2e/headerless.
# headerless_steps runs with kvc@usbip stopped and its modules unloaded, and leaves it so, with
# the instances' files gone again from /etc/kvc (the purge check of boot 2 counts what is there).
hl=/var/lib/kvc-e2e/headerless
hl_journal() { journalctl -b -u "kvc@$1" -o cat; }
hl_state() { [ "$(systemctl is-active "kvc@$1")" = "$2" ]; }
hl_up() { hl_state usbip-source active && loaded; }
hl_tool() { kvc wrapper usbip-source "$KVER" "$@"; }
# What the kernel says when it refuses a module for its ABI (kernel/module/version.c, main.c).
hl_rejections() { dmesg | grep -E 'disagrees about version of symbol|no symbol version for|version magic|Invalid module format|module_layout' || true; }
# check, but what it shows on a failure is the named unit's state and journal.
hl_check() {
	unit=$1 what=$2; shift 2
	if "$@"; then ok "$what"; return; fi
	bad "$what"
	echo "  | kvc@$unit: $(systemctl is-active "kvc@$unit"); modules: $(ls -d /sys/module/usbip_core /sys/module/usbip_host /sys/module/vhci_hcd 2>/dev/null | xargs -r -n1 basename | xargs)"
	hl_journal "$unit" | tail -n 25 | show
}

headerless_steps() {
	hl_started=$(ms)
	image=localhost/usbip-source-1.0.0:$TAG
	say "6b. kernel $KVER as if it had no headers package: instance usbip-source, its image from Containerfile.debian-source (built on the host by kvc)"
	install -m 644 "$hl/usbip-source.conf" /etc/kvc/usbip-source.conf
	# kvc reads the kernel's compressed modules (6.12's are .ko.xz) with xz, which the guest lacks
	# (xz-utils is Priority: standard, not in a minimal install): kvc@usbip's checks so far said so;
	# this step's check gets xz-utils, removed again at its end (the other steps stay as they were).
	if find "/lib/modules/$KVER/kernel" -name '*.ko.xz' -print -quit | grep -q . && ! command -v xz >/dev/null; then
		check "without xz-utils, kvc@usbip's ABI check said it could not read the kernel's .ko.xz modules" \
			sh -c "journalctl -b -u kvc@usbip -o cat | grep -q 'modules could not be read (no xz on PATH)'"
		run dpkg -i "$hl/xz-utils.deb"
		hl_xz=installed
	fi
	recipe=$(podman run --rm --network=none "$image" cat /usr/lib/kvc/recipe 2>&1)
	echo "$recipe" | show
	check "the usbip-source image of $KVER says it was built by the header-less recipe (the kernel's source, its config, CRCs from its modules)" \
		sh -c "printf '%s\n' \"\$1\" | grep -q '^header-less recipe: $KVER from linux-source-[0-9.]* [^ ]*, config /boot/config-$KVER and [0-9]* symbol CRCs from the modules of linux-image-'" - "$recipe"
	check "... and none of usbip_core, usbip_host, vhci_hcd is loaded before kvc@usbip-source starts" none_loaded
	t=$(ms)
	run systemctl start kvc@usbip-source
	say "kvc@usbip-source started in $(($(ms) - t)) ms"
	hl_journal usbip-source | show
	hl_check usbip-source "kvc@usbip-source (the header-less image) is active and usbip_core, usbip_host, vhci_hcd are loaded" hl_up
	check "... loaded from its image without building" sh -c "journalctl -b -u kvc@usbip-source -o cat | grep -q 'ready: .* loaded into $KVER\$' && ! journalctl -b -u kvc@usbip-source -o cat | grep -qi 'build'"
	abi=$(hl_journal usbip-source | grep 'ABI check: ' | tail -n 1)
	check "... after kvc's ABI check passed: vermagic equal, the symbol versions equal (${abi#*ABI check: })" \
		sh -c "printf '%s\n' \"\$1\" | grep -Eq 'ABI check: [1-9][0-9]* modules, [1-9][0-9]* of the kernel.s modules read, vermagic equal, [1-9][0-9]* symbol versions equal'" - "$abi"
	check "... and the kernel logged nothing against them (no ABI rejection in dmesg)" sh -c "[ -z \"\$1\" ]" - "$(hl_rejections)"

	busid=$(stick_busid)
	# The tools container starts after the unit is ready (kvc loads its AppArmor profile first):
	# usbipd -D run before it would go to a container of its own, gone with the call.
	wait_for test -s /run/kvc/usbip-source/tools.pid
	run hl_tool usbipd -D
	wait_for listening
	run hl_tool usbip bind -b "$busid"
	wait_for test -e "/sys/bus/usb/drivers/usbip-host/$busid"
	run hl_tool usbip attach -r 127.0.0.1 -b "$busid"
	wait_for vhci_disk >/dev/null
	run hl_tool usbip port
	disk=$(vhci_disk)
	expected=$(cat /var/lib/kvc-e2e/stick.sha256)
	actual=$(head -c $((8 * 1024 * 1024)) "/dev/${disk:-none}" 2>/dev/null | sha256sum | cut -d' ' -f1)
	echo "  | read 8 MiB through USB/IP from /dev/${disk:-none}: sha256 $actual (written: $expected)"
	check "USB/IP with the header-less modules (usbip from kvc@usbip-source's tools container): bind, attach, a port in use, the 8 MiB read through vhci equal to the disk's" \
		sh -c "hl_attached=\$(kvc wrapper usbip-source $KVER usbip port) && printf '%s' \"\$hl_attached\" | grep -q 'Port in Use' && [ '$actual' = '$expected' ]"
	t=$(ms)
	run systemctl stop kvc@usbip-source
	say "kvc@usbip-source stopped in $(($(ms) - t)) ms"
	wait_for test -e "/sys/bus/usb/drivers/usb-storage/$busid:1.0"
	hl_check usbip-source "systemctl stop kvc@usbip-source: the disk detached, the modules unloaded, the disk back with usb-storage" sh -c "
		[ \"\$(systemctl is-active kvc@usbip-source)\" = inactive ] && journalctl -b -u kvc@usbip-source -o cat | grep -q 'detached vhci port' &&
		journalctl -b -u kvc@usbip-source -o cat | grep -q 'unloaded vhci-hcd, usbip-host, usbip-core' && [ -e /sys/bus/usb/drivers/usb-storage/$busid:1.0 ]"
	check "... and after the stop none of them is loaded" none_loaded
	pkill -x usbipd || true
	rm -f /etc/kvc/usbip-source.conf

	bad=localhost/usbip-badcrc-1.0.0:$TAG
	if podman image exists "$bad"; then
		say "6c. the same image with one CRC of vhci-hcd.ko changed (instance usbip-badcrc): refused before the kernel sees it"
		install -m 644 "$hl/usbip-badcrc.conf" /etc/kvc/usbip-badcrc.conf
		cp -r "$hl/usbip-badcrc" /etc/kvc/
		podman run --rm --network=none "$bad" modprobe --dump-modversions "/lib/modules/$KVER/extra/vhci-hcd.ko" | grep -w usb_hcd_giveback_urb | sed 's/^/vhci-hcd.ko in the image imports: /' | show
		t=$(ms)
		run systemctl start kvc@usbip-badcrc
		say "systemctl start kvc@usbip-badcrc returned in $(($(ms) - t)) ms"
		hl_journal usbip-badcrc | show
		hl_check usbip-badcrc "kvc@usbip-badcrc failed with exit status 77 (the kernel would refuse the modules), not restarted" sh -c "
			[ \"\$(systemctl is-active kvc@usbip-badcrc)\" = failed ] && [ \"\$(systemctl show -p ExecMainStatus --value kvc@usbip-badcrc)\" = 77 ] &&
			[ \"\$(systemctl show -p NRestarts --value kvc@usbip-badcrc)\" = 0 ]"
		check "... its journal names the symbol: vhci-hcd disagrees with kernel $KVER about the version of symbol usb_hcd_giveback_urb; nothing was loaded" \
			sh -c "journalctl -b -u kvc@usbip-badcrc -o cat | grep 'about the version of symbol usb_hcd_giveback_urb' | grep -q 'nothing was loaded'"
		check "... nothing of usbip_core, usbip_host, vhci_hcd was loaded" none_loaded
		rejections=$(hl_rejections)
		check "... and the kernel logged no rejection (dmesg: ${rejections:-no line on module versions})" [ -z "$rejections" ]
		# The control: the same modules loaded by hand past kvc (modprobe in the image, as kvc's
		# load runs it) are the kernel's to refuse, and it does, saying so in its log.
		echo "  | # podman run --privileged $bad modprobe vhci-hcd   (past kvc's check)"
		podman run --rm --privileged --network=none "$bad" modprobe vhci-hcd 2>&1 | show
		rejections=$(hl_rejections)
		echo "$rejections" | show
		check "control, past kvc: the kernel refuses the same vhci-hcd and logs 'disagrees about version of symbol usb_hcd_giveback_urb'" \
			sh -c "[ ! -e /sys/module/vhci_hcd ] && printf '%s\n' \"\$1\" | grep -q 'vhci_hcd: disagrees about version of symbol usb_hcd_giveback_urb'" - "$rejections"
		for module in vhci_hcd usbip_host usbip_core; do [ ! -e "/sys/module/$module" ] || rmmod "$module"; done
		check "... and after the control nothing of usbip_core, usbip_host, vhci_hcd is left loaded" none_loaded
		systemctl reset-failed kvc@usbip-badcrc
		rm -rf /etc/kvc/usbip-badcrc /etc/kvc/usbip-badcrc.conf
	fi
	if [ "${hl_xz:-}" = installed ]; then run dpkg --purge xz-utils; fi
	say "the header-less steps took $(($(ms) - hl_started)) ms"
}
