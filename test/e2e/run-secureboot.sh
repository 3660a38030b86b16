#!/usr/bin/env bash
# The Secure Boot guest (issue 20): Debian's signed 6.1 kernel booted through shim and GRUB under
# OVMF's Secure Boot (run-guest.sh --secure-boot), locked down, with the emulated USB disk; the
# user's path from no key (docs/secure-boot.md). This host builds the usbip image unsigned and a
# copy, usbipfx, signed with someone else's key; the guest gets those and no key. Boot 1
# (guest/secureboot-e2e.sh): kvc key create, kvc's refusals of both images, kvc key enroll. Boot 2:
# shim's MokManager, driven over the serial console (guest/mokmanager.mjs) with the one-time
# password boot 1 printed. Then this host builds the usbipsb instance's image signed with the key
# boot 1 made, read off the guest's disk: that build stands in for the host's own (a real host
# builds in place; the guest has no network and TCG is too slow). Boot 3: systemctl start
# kvc@usbipsb loads it without a build, the USB/IP round trip, systemctl stop. Prints each step's time.
#   test/e2e/run-secureboot.sh [PREFIX]   (console log: PREFIX-secureboot.log)
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=${1:-/var/tmp/kvc-e2e-secureboot}
export KVER=${KVER:-6.1.0-56-amd64}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
tag() { case $1 in *[+~]*) printf '_%s' "$(printf '%s' "$1" | sed 's/_/__/g; s/+/_p/g; s/~/_t/g')" ;; *) printf '%s' "$1" ;; esac; }
say() { printf '\n== %s\n' "$*"; }
ms() { date +%s%3N; }
for file in /usr/share/OVMF/OVMF_CODE_4M.secboot.fd /usr/lib/shim/shimx64.efi.signed /usr/lib/shim/mmx64.efi.signed /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed; do
	[ -s "$file" ] || { echo "run-secureboot: $file is missing: apt-get install ovmf shim-signed shim-helpers-amd64-signed grub-efi-amd64-signed mtools dosfstools" >&2; exit 69; }
done
work=$(mktemp -d /var/tmp/kvc-e2e-sb.XXXXXX)
trap 'rm -rf "$work"' EXIT
kvc() { node_modules/.bin/node lib/cli/main.js --config-dir "$work/config" "$@"; }

t=$(ms)
say "the guest: Debian 12's kernel $KVER without its USB/IP modules (cached)"
test/e2e/guest/build-guest.sh
say "make install DESTDIR=…"
make --no-print-directory -s install DESTDIR="$work/tree" PREFIX=/usr/local
mkdir -p "$work/config"
cp -r host/etc/kvc/. "$work/config/"
echo 'KVC_BUILD_NETWORK=host' >>"$work/config/kvc.conf"
cp "$work/config/usbip.conf" "$work/config/usbipsb.conf"
cp "$work/tree/etc/kvc/usbip.conf" "$work/tree/etc/kvc/usbipsb.conf"

say "the two images of boot 1 (no key on this host side: the guest makes its own)"
images=()
# The unsigned one: built with no key (an empty key folder of its own).
KVC_KEY_DIR=$work/no-keys kvc build usbip "$KVER"
podman save -q -o "$work/usbip.tar" "localhost/usbip-1.0.0:$(tag "$KVER")"
# A second, usbipfx, signed with a key that is not kvc's: someone else's, made with openssl and named
# in a kvc.conf of its own (KVC_SIGN_KEY, KVC_SIGN_CERT); the guest never gets that key, and the
# kernel will never trust it: kvc refuses it in boot 1 (the "not trusted" case) and again in boot 3,
# after kvc's key is enrolled.
mkdir -m 700 "$work/foreign" "$work/config-fx"
openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -sha256 -subj "/CN=someone else's module key/" \
	-addext extendedKeyUsage=codeSigning -keyout "$work/foreign/key.pem" -outform DER -out "$work/foreign/cert.der" 2>/dev/null
chmod 600 "$work/foreign/key.pem"
cp -r "$work/config/." "$work/config-fx/"
cp "$work/config/usbip.conf" "$work/config-fx/usbipfx.conf"
printf 'KVC_SIGN_KEY=%s\nKVC_SIGN_CERT=%s\n' "$work/foreign/key.pem" "$work/foreign/cert.der" >>"$work/config-fx/kvc.conf"
node_modules/.bin/node lib/cli/main.js --config-dir "$work/config-fx" build usbipfx "$KVER"
podman save -q -o "$work/usbipfx.tar" "localhost/usbipfx-1.0.0:$(tag "$KVER")"
cp "$work/tree/etc/kvc/usbip.conf" "$work/tree/etc/kvc/usbipfx.conf"
# No key goes to the guest: its /var/lib/kvc/keys does not exist until its own kvc key create.
[ ! -e "$work/tree/var/lib/kvc/keys" ] || { echo "run-secureboot: make install put a key folder in the tree" >&2; exit 1; }
# mokutil and keyctl for the guest (it has no network), and man-db (boot 1 reads kvc's manual pages):
# Debian's packages, installed by boot 1.
mkdir -p "$work/debs"
(cd "$work/debs" && apt-get download -qq mokutil libefiboot1 libefivar1 keyutils libkeyutils1 man-db bsdextrautils groff-base libgdbm6 libpipeline1 libuchardet0 >/dev/null)
payloads=()
for deb in "$work"/debs/*.deb; do payloads+=(--payload "$deb"); done
echo "   ready in $((($(ms) - t) / 1000)) s"

say "boot 1: the guest under Secure Boot (QEMU q35, OVMF, shim, GRUB; software emulation)"
t=$(ms)
test/e2e/guest/run-guest.sh --secure-boot --kernel "$KVER" --disk "$work/disk.img" --kvc-tree "$work/tree" \
	--image "$work/usbip.tar" --image "$work/usbipfx.tar" "${payloads[@]}" \
	--script test/e2e/guest/secureboot-e2e.sh --log "$prefix-secureboot.log" --timeout "${KVC_E2E_TIMEOUT:-1800}"
boot1=$((($(ms) - t) / 1000))
echo "   boot 1 took $boot1 s"
password=$(sed -n 's/^KVC-E2E: MOK-PASSWORD //p' "$prefix-secureboot.log" | tail -n 1)
[ -n "$password" ] || { echo "run-secureboot: boot 1 printed no MokManager password" >&2; exit 1; }

say "boot 2: shim's MokManager, the key enrolled with the one-time password, as a person would"
t=$(ms)
test/e2e/guest/run-guest.sh --secure-boot --mokmanager "$password" --kernel "$KVER" --disk "$work/disk.img" --no-usb \
	--log "$prefix-mokmanager.log" --timeout "${KVC_E2E_TIMEOUT:-1800}"
mok=$((($(ms) - t) / 1000))
echo "   boot 2 (MokManager) took $mok s"

say "the signed image: built here with the key the guest made (standing in for the host's own build)"
# A real host builds in place, with its own key (kvc@ or kvc build, as the reconciler does). This
# guest has no network and TCG is far too slow for a build, so this host builds for it: the key
# boot 1 made with kvc key create is read off the guest's disk (debugfs, the disk not mounted),
# used for one kvc build in a scratch key folder, and removed; the image goes onto the disk as an
# archive, as every image of these tests does.
t=$(ms)
# Boot 1 ended with a forced power-off: the file system's journal may hold changes not yet in
# place. Replay it first (e2fsck, journal only): debugfs neither reads nor replays it, and the
# guest's kernel replaying it at the next mount would write old directory blocks over what
# debugfs wrote (seen: the image archive gone in boot 3).
e2fsck -fy -E journal_only "$work/disk.img" >/dev/null 2>&1 || [ $? -le 1 ] ||
	{ echo "run-secureboot: e2fsck could not replay the journal of the guest's disk after boot 1" >&2; exit 1; }
install -d -m 700 "$work/guest-keys"
for file in signing-key.pem signing-cert.der; do
	debugfs -R "dump /var/lib/kvc/keys/$file $work/guest-keys/$file" "$work/disk.img" 2>/dev/null
	[ -s "$work/guest-keys/$file" ] || { echo "run-secureboot: no /var/lib/kvc/keys/$file on the guest's disk after boot 1" >&2; exit 1; }
done
chmod 600 "$work/guest-keys"/*
KVC_KEY_DIR=$work/guest-keys kvc build usbipsb "$KVER"
rm -rf "$work/guest-keys"
podman save -q -o "$work/usbipsb.tar" "localhost/usbipsb-1.0.0:$(tag "$KVER")"
printf 'mkdir /var/lib/kvc-e2e/signed\ncd /var/lib/kvc-e2e/signed\nwrite %s usbipsb.tar\n' "$work/usbipsb.tar" >"$work/debugfs.cmd"
debugfs -w -f "$work/debugfs.cmd" "$work/disk.img" >/dev/null 2>&1
debugfs -R "stat /var/lib/kvc-e2e/signed/usbipsb.tar" "$work/disk.img" 2>/dev/null | grep -q "Size: $(stat -c %s "$work/usbipsb.tar")" ||
	{ echo "run-secureboot: the signed image did not reach the guest's disk" >&2; exit 1; }
build=$((($(ms) - t) / 1000))
echo "   the signed build took $build s"

say "boot 3: the key trusted, the signed modules loaded under lockdown"
t=$(ms)
test/e2e/guest/run-guest.sh --secure-boot --kernel "$KVER" --disk "$work/disk.img" \
	--log "$prefix-secureboot-enrolled.log" --timeout "${KVC_E2E_TIMEOUT:-1800}"
boot3=$((($(ms) - t) / 1000))
echo "   boot 3 took $boot3 s"
podman rmi -i "localhost/usbipsb-1.0.0:$(tag "$KVER")" "localhost/usbipfx-1.0.0:$(tag "$KVER")" >/dev/null
# The user's path, step by step (the guest's own times from its console).
step() { sed -n "s/^KVC-E2E: ---- TIME $1: .* took \([0-9]*\) ms$/\1/p" "$2" | tail -n 1; }
say "the user's path, each step"
printf '   %-62s %s\n' "kvc key create (boot 1, in the guest)" "$(step 'key create' "$prefix-secureboot.log") ms" \
	"kvc key enroll (boot 1, in the guest)" "$(step enroll "$prefix-secureboot.log") ms" \
	"boot 1 in all (firmware to poweroff, with the refusals)" "$boot1 s" \
	"MokManager (boot 2: firmware, shim, the screens, the password)" "$mok s" \
	"the signed build on this host (stands in for the host's own)" "$build s" \
	"boot 3 load: systemctl start kvc@usbipsb (no build)" "$(step 'boot 3 load' "$prefix-secureboot-enrolled.log") ms" \
	"USB/IP round trip (usbipd, list, bind, attach, 8 MiB, detach)" "$(step 'round trip' "$prefix-secureboot-enrolled.log") ms" \
	"boot 3 in all" "$boot3 s"
