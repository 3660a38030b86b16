#!/usr/bin/env bash
# Builds (once, cached) what the end-to-end guest boots: Debian 12's own kernel with its USB/IP
# modules deleted (a kernel that lacks USB/IP, as Azure's, Docker Desktop's and RHCOS's do), a
# small initramfs that mounts the root disk, and a guest root (systemd, D-Bus, podman, kmod,
# usbutils; no Node) as a tarball. Rebuilt from Debian's packages when the cache is absent.
#   build-guest.sh                 the guest of $KVER (default 6.1.0-56-amd64)
#     out: $KVC_E2E_CACHE/<kver>/{vmlinuz,initrd.gz,root.tar,KVER}
#   build-guest.sh --update KVER   a kernel update for that guest: Debian's linux-image package of
#                                  KVER with its USB/IP modules deleted (repacked, installed in the
#                                  guest with dpkg -i), and the kernel and initramfs to boot it
#     out: $KVC_E2E_CACHE/<kver>/{vmlinuz,initrd.gz,linux-image.deb,KVER}
set -euo pipefail
update=no
if [ "${1:-}" = --update ]; then update=yes KVER=$2; fi
KVER=${KVER:-6.1.0-56-amd64}
cache=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}/$KVER
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
log() { printf 'build-guest: %s\n' "$*"; }
product=root.tar
[ "$update" = yes ] && product=linux-image.deb
# The cache is this script's output for this kernel: a changed script makes it anew.
stamp="$KVER $(sha256sum <"$0" | cut -c1-16)"
if [ -s "$cache/$product" ] && [ -s "$cache/initrd.gz" ] && [ "$(cat "$cache/KVER" 2>/dev/null)" = "$stamp" ]; then
	log "cached: $product and the kernel $KVER in $cache"
	exit 0
fi
start=$(date +%s)
work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "kernel $KVER from Debian's linux-image package"
(cd "$work" && apt-get download -qq "linux-image-$KVER" >/dev/null)
dpkg-deb -x "$work"/linux-image-"$KVER"_*.deb "$work/kernel"
cp "$work/kernel/boot/vmlinuz-$KVER" "$work/vmlinuz"
modules=$work/kernel/lib/modules/$KVER
rm -rf "$modules/kernel/drivers/usb/usbip"
# What the guest never needs, to keep the disk small.
rm -rf "$modules/kernel/drivers/gpu" "$modules/kernel/drivers/net/wireless" "$modules/kernel/sound" \
	"$modules/kernel/drivers/infiniband" "$modules/kernel/drivers/media" "$modules/kernel/drivers/staging"
depmod -b "$work/kernel" "$KVER"
if [ "$update" = yes ]; then
	log "repacking linux-image-$KVER without its USB/IP modules"
	pkg=$work/pkg
	dpkg-deb -R "$work"/linux-image-"$KVER"_*.deb "$pkg"
	rm -rf "$pkg/lib/modules/$KVER"
	cp -a "$modules" "$pkg/lib/modules/"
	rm -f "$pkg/lib/modules/$KVER"/modules.{dep,dep.bin,alias,alias.bin,symbols,symbols.bin,softdep,devname,builtin.bin,builtin.alias.bin}
	# md5sums lists what the package holds: drop what was deleted.
	(cd "$pkg" && while read -r sum path; do if [ -e "$path" ]; then printf '%s  %s\n' "$sum" "$path"; fi; done <DEBIAN/md5sums >DEBIAN/md5sums.new && mv DEBIAN/md5sums.new DEBIAN/md5sums)
	dpkg-deb --root-owner-group -Zgzip -z1 -b "$pkg" "$work/linux-image.deb" >/dev/null
	rm -rf "$pkg"
fi
if [ "$update" = no ]; then

# nftables: kvc guards exported USB/IP devices with a table of its own (issue 23).
log "guest root: debootstrap bookworm + systemd, dbus, podman (about two minutes)"
root=$work/root
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,udev,kmod,util-linux,iproute2,usbutils,procps,ca-certificates,nftables \
	bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://security.debian.org/debian-security bookworm-security main
SOURCES
chroot "$root" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
	podman runc conmon containernetworking-plugins golang-github-containers-common catatonit linux-base >/dev/null
# WireGuard's tools and tcpdump: the guest's WireGuard steps (issue 23; wireguard-steps.sh): kvc@usbip
# brings up its tunnel with wg and ip, and tcpdump is the eavesdropper on the link.
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends wireguard-tools tcpdump >/dev/null
# A kernel package depends on an initramfs tool; the guest boots the initramfs made here (QEMU's
# -kernel/-initrd), so a package that only provides the name stands in for initramfs-tools.
stub=$work/initramfs-stub
mkdir -p "$stub/DEBIAN"
printf '%s\n' 'Package: kvc-e2e-initramfs-stub' 'Version: 1' 'Architecture: all' 'Maintainer: kvc tests <kvc@localhost>' \
	'Provides: linux-initramfs-tool' 'Description: the kvc end-to-end guest boots an initramfs made outside it' >"$stub/DEBIAN/control"
dpkg-deb --root-owner-group -b "$stub" "$root/tmp/initramfs-stub.deb" >/dev/null
chroot "$root" dpkg -i /tmp/initramfs-stub.deb >/dev/null
rm -f "$root/tmp/initramfs-stub.deb"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/*
# The guest's kernel modules (without USB/IP).
mkdir -p "$root/lib/modules"
cp -a "$modules" "$root/lib/modules/"

# The guest: no network; root logs in on the serial console; the test runs as a unit.
echo kvc-e2e >"$root/etc/hostname"
echo '/dev/vda / ext4 rw,noatime 0 1' >"$root/etc/fstab"
chroot "$root" passwd -d root >/dev/null
mkdir -p "$root/etc/containers"
cat >"$root/etc/containers/containers.conf" <<'CONF'
# The guest runs podman as Debian ships it, but with runc (installed; crun is not).
[engine]
runtime = "runc"
CONF
ln -sf /dev/null "$root/etc/systemd/system/systemd-timesyncd.service"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily-upgrade.timer"
ln -sf /dev/null "$root/etc/systemd/system/e2scrub_all.timer"
ln -sf /dev/null "$root/etc/systemd/system/fstrim.timer"
tar -C "$root" -cf "$work/root.tar" .
fi

log "initramfs: busybox and the modules to mount the root disk"
init=$work/initramfs
mkdir -p "$init"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$init/bin/busybox"
for applet in sh mount umount insmod switch_root sleep echo cat mkdir ls tr; do ln -s busybox "$init/bin/$applet"; done
# virtio_blk and ext4 with their dependencies, in load order.
for module in virtio_pci virtio_blk ext4; do
	modprobe -d "$work/kernel" -S "$KVER" --show-depends "$module"
done | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' >"$work/modules.list"
n=0
while read -r module; do
	n=$((n + 1))
	# busybox insmod takes plain .ko files: 6.12's modules come xz-compressed.
	case $module in
	*.ko.xz) xz -dc "$module" >"$init/modules/$(printf '%02d' "$n")-$(basename "$module" .xz)" ;;
	*) cp "$module" "$init/modules/$(printf '%02d' "$n")-$(basename "$module")" ;;
	esac
done <"$work/modules.list"
cat >"$init/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in /modules/*.ko*; do insmod "$module" 2>/dev/null; done
# Under TCG on a loaded machine the disk can take seconds to appear: wait up to 60 s for it. If the
# root cannot be mounted, say so on the console and power off (an interactive shell on a console
# with no input would end in a panic that says nothing).
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
	echo "KVC-E2E: FAIL initramfs: cannot mount /dev/vda (waited $((i / 5)) s; block devices: $(ls /sys/block | tr '\n' ' '))"
	echo o >/proc/sysrq-trigger
	sleep 10
fi
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
INIT
chmod 755 "$init/init"
(cd "$init" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

mv "$work/vmlinuz" "$work/initrd.gz" "$work/$product" "$cache/"
echo "$stamp" >"$cache/KVER"
log "done in $(($(date +%s) - start)) s: $(du -sh "$cache/$product" | cut -f1) $product, $(wc -l <"$work/modules.list") initramfs modules"
