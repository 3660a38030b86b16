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
echo "KVC-E2E: DONE pass=$pass fail=$fail"
sync
systemctl poweroff --force --force
