#!/usr/bin/env bash
# The Secure Boot guest (issue 20): Debian's signed 6.1 kernel booted through shim and GRUB under
# OVMF's Secure Boot (run-guest.sh --secure-boot), locked down. On this host: kvc's own signing
# key made with `kvc key create` in a scratch key folder, the usbip image built as always
# (unsigned) and a copy of the instance, usbipsb, built signed with that key; the guest gets both
# images, both instances and the key (not enrolled). guest/secureboot-e2e.sh checks that kvc
# refuses each load first, with its own words, then queues the key (kvc key enroll); boot 2 stops
# in shim's MokManager, driven over the serial console (guest/mokmanager.mjs) with the one-time
# password boot 1 printed; boot 3 checks the kernel trusts the key and the signed modules load.
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

say "kvc's signing key (kvc key create, in a scratch key folder), and the two images"
export KVC_KEY_DIR=$work/keys
mkdir -m 700 "$KVC_KEY_DIR"
kvc key create
images=()
# The unsigned one: built with no key (an empty key folder of its own).
KVC_KEY_DIR=$work/no-keys kvc build usbip "$KVER"
podman save -q -o "$work/usbip.tar" "localhost/usbip-1.0.0:$(tag "$KVER")"
kvc build usbipsb "$KVER"
podman save -q -o "$work/usbipsb.tar" "localhost/usbipsb-1.0.0:$(tag "$KVER")"
# A third, usbipfx, signed with a key that is not kvc's: someone else's, made with openssl and named
# in a kvc.conf of its own (KVC_SIGN_KEY, KVC_SIGN_CERT); the guest never gets that key, and the
# kernel will never trust it (boot 3 checks kvc refuses it, naming it, after kvc's key is enrolled).
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
# The key goes to the guest where kvc keeps its own (root's, 700; the files 600).
install -d -m 700 "$work/tree/var/lib/kvc" "$work/tree/var/lib/kvc/keys"
cp -a "$KVC_KEY_DIR"/. "$work/tree/var/lib/kvc/keys/"
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
	--image "$work/usbip.tar" --image "$work/usbipsb.tar" --image "$work/usbipfx.tar" "${payloads[@]}" \
	--script test/e2e/guest/secureboot-e2e.sh --no-usb --log "$prefix-secureboot.log" --timeout "${KVC_E2E_TIMEOUT:-1800}"
echo "   boot 1 took $((($(ms) - t) / 1000)) s"
password=$(sed -n 's/^KVC-E2E: MOK-PASSWORD //p' "$prefix-secureboot.log" | tail -n 1)
[ -n "$password" ] || { echo "run-secureboot: boot 1 printed no MokManager password" >&2; exit 1; }

say "boot 2: shim's MokManager, the key enrolled with the one-time password, as a person would"
t=$(ms)
test/e2e/guest/run-guest.sh --secure-boot --mokmanager "$password" --kernel "$KVER" --disk "$work/disk.img" --no-usb \
	--log "$prefix-mokmanager.log" --timeout "${KVC_E2E_TIMEOUT:-1800}"
echo "   boot 2 (MokManager) took $((($(ms) - t) / 1000)) s"

say "boot 3: the key trusted, the signed modules loaded under lockdown"
t=$(ms)
test/e2e/guest/run-guest.sh --secure-boot --kernel "$KVER" --disk "$work/disk.img" --no-usb \
	--log "$prefix-secureboot-enrolled.log" --timeout "${KVC_E2E_TIMEOUT:-1800}"
echo "   boot 3 took $((($(ms) - t) / 1000)) s"
podman rmi -i "localhost/usbipsb-1.0.0:$(tag "$KVER")" "localhost/usbipfx-1.0.0:$(tag "$KVER")" >/dev/null
