#!/usr/bin/env bash
# Boots the end-to-end guest once: the cached root (build-guest.sh) plus a kvc install tree
# (`make install DESTDIR=…`), an image archive (`podman save`) and a guest-side script, on a fresh
# disk; QEMU under TCG with an emulated xHCI controller, a USB keyboard and a USB disk of known
# content. The script runs as a unit after boot; the serial console is the log. Exits 0 only when
# the guest printed "KVC-E2E: DONE pass=N fail=0".
#   run-guest.sh --kvc-tree DIR --image FILE --script FILE [--log FILE] [--timeout SECONDS] [--mode MODE]
set -euo pipefail
cache=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}
log=/var/tmp/kvc-e2e-console.log timeout=1200 mode=test tree='' image='' script=''
while (($#)); do
	case $1 in
	--kvc-tree) tree=$2; shift 2 ;;
	--image) image=$2; shift 2 ;;
	--script) script=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--mode) mode=$2; shift 2 ;;
	*) echo "run-guest: unknown argument $1" >&2; exit 64 ;;
	esac
done
[ -d "$tree" ] && [ -s "$image" ] && [ -s "$script" ] || { echo "run-guest: need --kvc-tree DIR --image FILE --script FILE" >&2; exit 64; }
[ -s "$cache/root.tar" ] || { echo "run-guest: no cached guest; run build-guest.sh" >&2; exit 69; }
say() { printf 'run-guest: %s\n' "$*" >&2; }

work=$(mktemp -d /var/tmp/kvc-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir "$root"
tar -C "$root" -xf "$cache/root.tar"
cp -a "$tree"/. "$root"/
mkdir -p "$root/var/lib/kvc-e2e"
cp "$image" "$root/var/lib/kvc-e2e/image.tar"
install -D -m 755 "$script" "$root/usr/local/libexec/kvc-e2e"
install -m 755 "$(dirname "$0")/../../../bench/guest/start-vs-bare.sh" "$root/usr/local/libexec/kvc-e2e-bench"
echo "$mode" >"$root/var/lib/kvc-e2e/mode"

# The USB disk: 8 MiB of known data; the guest reads it back through USB/IP and compares.
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/stick.img"
sha256sum <"$work/stick.img" | cut -d' ' -f1 >"$root/var/lib/kvc-e2e/stick.sha256"

cat >"$root/etc/systemd/system/kvc-e2e.service" <<'UNIT'
[Unit]
Description=kvc end-to-end test
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/usr/local/libexec/kvc-e2e
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/kvc-e2e.service "$root/etc/systemd/system/multi-user.target.wants/kvc-e2e.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"

size_mb=$(( $(du -sm "$root" | cut -f1) + 1536 ))
mkfs.ext4 -q -F -L kvcroot -d "$root" "$work/disk.img" "${size_mb}M"
rm -rf "$root"
say "disk ${size_mb} MB; booting (TCG, no KVM)"

set +e
timeout --kill-after=10 "$timeout" qemu-system-x86_64 -accel tcg -smp 2 -m 3072 -nographic -no-reboot \
	-kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz" \
	-append "console=ttyS0 root=/dev/vda rw panic=-1 ${KVC_E2E_VERBOSE:+systemd.show_status=true}${KVC_E2E_VERBOSE:-quiet loglevel=3 systemd.show_status=false}" \
	-drive "file=$work/disk.img,if=virtio,format=raw" \
	-device qemu-xhci,id=xhci -device usb-kbd,bus=xhci.0 \
	-drive "if=none,id=stick,file=$work/stick.img,format=raw" -device usb-storage,bus=xhci.0,drive=stick \
	-nic none </dev/null 2>&1 | sed -u 's/\r$//' | tee "$log" | grep --line-buffered -E '^(KVC-E2E|  \| )' >&2
status=${PIPESTATUS[0]}
set -e
[ "$status" = 124 ] && say "timed out after $timeout s"
grep -qE '^KVC-E2E: DONE pass=[0-9]+ fail=0$' "$log"
