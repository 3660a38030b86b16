#!/bin/sh
# Runs inside the end-to-end guest booted under UEFI Secure Boot (run-guest.sh --secure-boot:
# OVMF with Microsoft's keys, shim, Debian's signed GRUB and kernel), as on an Azure Trusted Launch
# VM: the kernel is locked down and loads only modules signed by a key it trusts. Two images: the
# usbip instance's, unsigned, and the usbipsb instance's, signed on the host with kvc's own key
# (which this guest has too, not enrolled). kvc must refuse both before touching the kernel, with
# its own words and the remedy. Prints "KVC-E2E: PASS|FAIL <step>" and "KVC-E2E: DONE pass=N fail=M".
. /usr/local/libexec/kvc-e2e-checks.sh
none_in() { for m in "$@"; do [ ! -e "/sys/module/$m" ] || return 1; done; }
say "guest kernel $KVER under UEFI Secure Boot"
# Boot 1 runs the refusals and queues kvc's key (kvc key enroll); the host then drives MokManager
# (boot 2, no OS); boot 3 sees this marker and checks the key is trusted and the modules load.
enrolled=/var/lib/kvc-e2e/mok-queued
if [ -e "$enrolled" ]; then
	say "boot 3: after MokManager enrolled kvc's key"
	echo "  | # kvc key status"
	kvc key status 2>&1 | show
	check "kvc key status: the kernel trusts kvc's key now, and it is in the MOK list" sh -c "
		out=\$(kvc key status 2>&1) &&
		printf '%s\n' \"\$out\" | grep -q '^kernel trusts it: yes' &&
		printf '%s\n' \"\$out\" | grep -q '^MOK list: *enrolled'"
	dmesg | grep -Ei 'machine|MOK|kvc module signing' | head -n 6 | show
	check "kvc check: the signing key is trusted" sh -c "kvc check 2>&1 | grep -q '^ok    signing key: CN=kvc module signing key.*the running kernel trusts it'"
	echo "  | # kvc load usbipsb $KVER   (signed with kvc's key, enrolled)"
	out=$(kvc load usbipsb "$KVER" 2>&1); status=$?
	echo "$out" | show
	check "kvc load of the signed image succeeds under lockdown: usbip_core, usbip_host, vhci_hcd loaded (exit $status)" sh -c "[ $status -eq 0 ] && ! none_in usbip_core && [ -e /sys/module/usbip_host ] && [ -e /sys/module/vhci_hcd ]"
	check "the kernel took the signature (no rejection, not tainted by an unsigned module)" sh -c "! dmesg | grep -Eqi 'module verification failed|Key was rejected|Loading of unsigned module' && [ \$(( \$(cat /proc/sys/kernel/tainted) & 8192 )) -eq 0 ]"
	check "vhci_hcd is there: /sys/devices/platform/vhci_hcd.0" test -d /sys/devices/platform/vhci_hcd.0
	echo "  | # kvc unload usbipsb $KVER"
	kvc unload usbipsb "$KVER" 2>&1 | show
	check "kvc unload took them out again" none_in usbip_core usbip_host vhci_hcd
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
check "images loaded from podman save ($(($(ms) - t)) ms)" sh -c "podman image exists localhost/usbip-1.0.0:$TAG && podman image exists localhost/usbipsb-1.0.0:$TAG"

echo "  | # kvc key status"
kvc key status 2>&1 | show
check "kvc key status: Secure Boot on, unsigned modules refused, kvc's key not trusted by this kernel" sh -c "
	out=\$(kvc key status 2>&1) &&
	printf '%s\n' \"\$out\" | grep -q '^Secure Boot: *on' &&
	printf '%s\n' \"\$out\" | grep -q '^unsigned modules: refused' &&
	printf '%s\n' \"\$out\" | grep -q '^kernel trusts it: no'"

echo "  | # kvc check"
kvc check 2>&1 | show
check "kvc check fails the signing key: the running kernel does not trust it" sh -c "kvc check 2>&1 | grep -q '^FAIL  signing key: CN=kvc module signing key.*does not trust it'"

echo "  | # kvc load usbip $KVER   (its image unsigned)"
out=$(kvc load usbip "$KVER" 2>&1); status=$?
echo "$out" | show
check "kvc load of the unsigned image is refused (77) before loading anything, saying the modules are not signed and the kernel is locked down" sh -c "
	[ $status -eq 77 ] && printf '%s' \"\$1\" | grep -q 'not signed' && printf '%s' \"\$1\" | grep -q 'locked down'" - "$out"

echo "  | # kvc load usbipsb $KVER   (signed with kvc's key, not enrolled)"
out=$(kvc load usbipsb "$KVER" 2>&1); status=$?
echo "$out" | show
check "kvc load of the image signed with a key the kernel does not trust is refused (77): the key is not enrolled, run kvc key enroll and reboot" sh -c "
	[ $status -eq 77 ] && printf '%s' \"\$1\" | grep -q 'is not enrolled: run kvc key enroll and reboot'" - "$out"
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
echo "  | # kvc key enroll"
out=$(kvc key enroll 2>&1); status=$?
echo "$out" | show
password=$(printf '%s\n' "$out" | sed -n 's/^The password: //p')
check "kvc key enroll queued the key with a one-time password and named MokManager's steps (exit $status)" sh -c "
	[ $status -eq 0 ] && [ -n '$password' ] && printf '%s' \"\$1\" | grep -q 'queued for enrolment' && printf '%s' \"\$1\" | grep -q 'Enroll MOK'" - "$out"
check "kvc key status: waiting for MokManager at the next boot" sh -c "kvc key status 2>&1 | grep -q '^MOK list: *waiting for MokManager'"
# For the host's MokManager driver (a person would read it off the screen).
echo "KVC-E2E: MOK-PASSWORD $password"
touch "$enrolled"
echo "KVC-E2E: DONE pass=$pass fail=$fail"
sync
systemctl poweroff --force --force
