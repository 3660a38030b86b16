#!/bin/sh
# Builds kvc's systemd-sysext image for image-based hosts (Flatcar, Fedora CoreOS): the /usr part
# of `make install DESTDIR=TREE PREFIX=/usr SYSCONFDIR=/etc` (`make sysext` runs both) with the
# extension-release file systemd-sysext requires. Out: OUTDIR/kvc-sysext/ (a plain directory image)
# and, where mksquashfs is installed, OUTDIR/kvc_<version>_<arch>.raw (the same as squashfs).
# /etc cannot be in an extension: the default configuration goes to /usr/share/kvc/etc/kvc, to be
# copied to /etc/kvc. See docs/packages.md.
#   packaging/sysext/build.sh TREE OUTDIR VERSION
set -eu
tree=$1 out=$2 version=$3
case $(uname -m) in x86_64) arch=x86-64 deb=amd64 ;; aarch64) arch=arm64 deb=arm64 ;; *) arch=$(uname -m) deb=$arch ;; esac
image=$out/kvc-sysext
rm -rf "$image"
mkdir -p "$image"
cp -a "$tree/usr" "$image/usr"
[ ! -e "$image/usr/local" ] || { echo "sysext: $tree has usr/local: install with PREFIX=/usr" >&2; exit 1; }
mkdir -p "$image/usr/share/kvc/etc"
cp -a "$tree/etc/kvc" "$image/usr/share/kvc/etc/kvc"
mkdir -p "$image/usr/lib/extension-release.d"
# ID=_any: kvc carries its own Node and runs on any distribution's systemd; ARCHITECTURE: that Node's.
printf 'ID=_any\nARCHITECTURE=%s\n' "$arch" >"$image/usr/lib/extension-release.d/extension-release.kvc"
echo "$image"
if command -v mksquashfs >/dev/null 2>&1; then
	raw=$out/kvc_${version}_$deb.raw
	rm -f "$raw"
	mksquashfs "$image" "$raw" -all-root -noappend -quiet -comp xz >/dev/null
	echo "$raw"
fi
