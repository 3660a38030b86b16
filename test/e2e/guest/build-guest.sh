#!/usr/bin/env bash
# Builds (once, cached) what the end-to-end guest boots: Debian 12's own kernel with its USB/IP
# modules deleted (a kernel that lacks USB/IP, as Azure's, Docker Desktop's and RHCOS's do), a
# small initramfs that mounts the root disk, and a guest root (systemd, D-Bus, podman, kmod,
# usbutils; no Node) as a tarball. Rebuilt from Debian's packages when the cache is absent.
#   out: $KVC_E2E_CACHE/{vmlinuz,initrd.gz,root.tar,KVER}
set -euo pipefail
KVER=${KVER:-6.1.0-56-amd64}
cache=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
log() { printf 'build-guest: %s\n' "$*"; }
if [ -s "$cache/root.tar" ] && [ -s "$cache/initrd.gz" ] && [ "$(cat "$cache/KVER" 2>/dev/null)" = "$KVER" ]; then
	log "cached guest for $KVER in $cache"
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

log "guest root: debootstrap bookworm + systemd, dbus, podman (about two minutes)"
root=$work/root
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,udev,kmod,util-linux,iproute2,usbutils,procps,ca-certificates \
	bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://security.debian.org/debian-security bookworm-security main
SOURCES
chroot "$root" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
	podman runc conmon containernetworking-plugins golang-github-containers-common catatonit >/dev/null
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

log "initramfs: busybox and the modules to mount the root disk"
init=$work/initramfs
mkdir -p "$init"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$init/bin/busybox"
for applet in sh mount umount insmod switch_root sleep echo cat mkdir; do ln -s busybox "$init/bin/$applet"; done
# virtio_blk and ext4 with their dependencies, in load order.
for module in virtio_pci virtio_blk ext4; do
	modprobe -d "$work/kernel" -S "$KVER" --show-depends "$module"
done | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' >"$work/modules.list"
n=0
while read -r module; do
	n=$((n + 1))
	cp "$module" "$init/modules/$(printf '%02d' "$n")-$(basename "$module")"
done <"$work/modules.list"
cat >"$init/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in /modules/*.ko*; do insmod "$module" 2>/dev/null; done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; exec sh; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
INIT
chmod 755 "$init/init"
(cd "$init" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

mv "$work/vmlinuz" "$work/initrd.gz" "$work/root.tar" "$cache/"
echo "$KVER" >"$cache/KVER"
log "done in $(($(date +%s) - start)) s: $(du -sh "$cache/root.tar" | cut -f1) root, $(wc -l <"$work/modules.list") initramfs modules"
