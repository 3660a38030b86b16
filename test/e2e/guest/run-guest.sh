#!/usr/bin/env bash
# Boots the end-to-end guest once: the cached root (build-guest.sh) plus a kvc install tree
# (`make install DESTDIR=…`), image archives (`podman save`), an optional payload for the guest
# (a kernel update's .deb) and a guest-side script, on a fresh disk; QEMU under TCG with an
# emulated xHCI controller, a USB keyboard and a USB disk of known content. The script runs as a
# unit after boot; the serial console is the log. With --disk FILE the disk is kept there, and a
# later call with the same --disk boots it again as it was left (the second boot of a kernel
# update, with --kernel the new kernel). Exits 0 only when the guest printed
# "KVC-E2E: DONE pass=N fail=0".
#   run-guest.sh --kvc-tree DIR --image FILE [--image FILE…] [--payload FILE…] --script FILE
#                [--kernel KVER] [--disk FILE] [--log FILE] [--timeout SECONDS] [--mode MODE]
#                [--stick FILE | --no-usb] [--net listen=127.0.0.1:PORT|connect=127.0.0.1:PORT]
#                [--append KERNEL-ARGS] [--usb-disk ID,SERIAL,FILE…] [--qmp SOCKET] [--secure-boot [--mokmanager PASSWORD]]
# --no-usb: no USB controller at all (a cloud VM); --net: a private link to another guest, over the
# host's loopback (QEMU's socket netdev), and nothing else; --stick: the USB disk's image (made by
# the caller, e.g. to tell another guest its checksum) instead of a new one; --usb-disk (repeatable):
# USB disks with these QEMU ids and serial numbers on the xHCI bus instead of the one --stick disk
# (same VID:PID, told apart by serial; attached as -blockdev nodes named after the id, so that a
# disk unplugged with QMP device_del can be plugged in again with device_add); --qmp: QEMU's
# monitor on that unix socket, for the caller to unplug and plug devices. --secure-boot: UEFI
# Secure Boot as on an Azure Trusted Launch VM, from Debian's packages: OVMF with Microsoft's keys
# (its variables kept beside the disk as FILE.vars, so that a key enrolled in MokManager stays),
# shim, Debian's signed GRUB and the kernel package's signed vmlinuz on an EFI system partition
# (FILE.esp); the kernel then runs locked down. Needs ovmf, shim-signed, shim-helpers-amd64-signed,
# grub-efi-amd64-signed, dosfstools and mtools. --mokmanager PASSWORD: a boot that stops in shim's
# MokManager (a key queued by `kvc key enroll`): its serial console is driven by mokmanager.mjs,
# which enrols the key with that one-time password and reboots; this exits with its status.
#   run-guest.sh --disk FILE --kernel KVER [--log FILE] [--timeout SECONDS]   (boot a kept disk again)
set -euo pipefail
e2e_cache=${KVC_E2E_CACHE:-/var/cache/kvc-test/e2e}
kernel=${KVER:-6.1.0-56-amd64}
log=/var/tmp/kvc-e2e-console.log timeout=1200 mode=test tree='' script='' disk='' stick='' usb=yes net='' append=''
images=() payloads=() usb_disks=() qmp='' secure_boot=no mok_password=''
while (($#)); do
	case $1 in
	--kvc-tree) tree=$2; shift 2 ;;
	--image) images+=("$2"); shift 2 ;;
	--payload) payloads+=("$2"); shift 2 ;;
	--script) script=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--disk) disk=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--mode) mode=$2; shift 2 ;;
	--stick) stick=$2; shift 2 ;;
	--no-usb) usb=no; shift ;;
	--net) net=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--usb-disk) usb_disks+=("$2"); shift 2 ;;
	--qmp) qmp=$2; shift 2 ;;
	--secure-boot) secure_boot=yes; shift ;;
	--mokmanager) mok_password=$2; shift 2 ;;
	*) echo "run-guest: unknown argument $1" >&2; exit 64 ;;
	esac
done
# The kernel and initramfs that boot: those of $kernel (build-guest.sh keeps one per kernel).
cache=$e2e_cache/$kernel
[ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.gz" ] || { echo "run-guest: no cached kernel $kernel; run build-guest.sh" >&2; exit 69; }
say() { printf 'run-guest: %s\n' "$*" >&2; }

work=$(mktemp -d /var/tmp/kvc-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -n "$disk" ] || disk=$work/disk.img
# The USB disk beside the guest's disk: 8 MiB of known data, read back through USB/IP.
if [ -z "$stick" ]; then stick=$disk.stick; fi
if [ -e "$disk" ]; then
	[ "$usb" = no ] || [ -s "$stick" ] || { echo "run-guest: $disk has no $stick beside it" >&2; exit 64; }
	say "booting the kept disk $disk again"
else
	# No --image is a node that gets its images only by pull (the pair's client).
	[ -d "$tree" ] && [ -s "$script" ] || { echo "run-guest: need --kvc-tree DIR --script FILE" >&2; exit 64; }
	# A new disk holds the guest root of the kernel it boots first.
	[ -s "$cache/root.tar" ] || { echo "run-guest: no cached guest root for $kernel; run build-guest.sh" >&2; exit 69; }
	root=$work/root
	mkdir "$root"
	tar -C "$root" -xf "$cache/root.tar"
	cp -a "$tree"/. "$root"/
	mkdir -p "$root/var/lib/kvc-e2e/images" "$root/var/lib/kvc-e2e/payload"
	for image in ${images[@]+"${images[@]}"}; do cp "$image" "$root/var/lib/kvc-e2e/images/"; done
	for payload in "${payloads[@]}"; do cp "$payload" "$root/var/lib/kvc-e2e/payload/"; done
	install -D -m 755 "$script" "$root/usr/local/libexec/kvc-e2e"
	install -m 644 "$(dirname "$0")/checks.sh" "$root/usr/local/libexec/kvc-e2e-checks.sh"
	install -m 755 "$(dirname "$0")/../../../bench/guest/start-vs-bare.sh" "$root/usr/local/libexec/kvc-e2e-bench"
	echo "$mode" >"$root/var/lib/kvc-e2e/mode"
	if [ "$usb" = yes ]; then
		[ -s "$stick" ] || head -c $((8 * 1024 * 1024)) /dev/urandom >"$stick"
		sha256sum <"$stick" | cut -d' ' -f1 >"$root/var/lib/kvc-e2e/stick.sha256"
	fi

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
	mkfs.ext4 -q -F -L kvcroot -d "$root" "$disk" "${size_mb}M"
	rm -rf "$root"
	say "disk ${size_mb} MB"
fi
say "booting kernel $kernel (TCG, no KVM)"

devices=()
if [ "$usb" = yes ] && ((${#usb_disks[@]})); then
	devices+=(-device qemu-xhci,id=xhci -device usb-kbd,bus=xhci.0,port=1)
	port=2
	for spec in "${usb_disks[@]}"; do
		IFS=, read -r id serial file <<<"$spec"
		devices+=(-blockdev "driver=raw,node-name=$id-data,file.driver=file,file.filename=$file"
			-device "usb-storage,id=$id,bus=xhci.0,port=$port,drive=$id-data,serial=$serial")
		port=$((port + 1))
	done
elif [ "$usb" = yes ]; then
	devices+=(-device qemu-xhci,id=xhci -device usb-kbd,bus=xhci.0
		-drive "if=none,id=stick,file=$stick,format=raw" -device usb-storage,bus=xhci.0,drive=stick)
fi
[ -z "$qmp" ] || devices+=(-qmp "unix:$qmp,server=on,wait=off")
if [ -n "$net" ]; then
	devices+=(-netdev "socket,id=link,$net" -device virtio-net-pci,netdev=link)
else
	devices+=(-nic none)
fi
# mitigations=off: the guest kernel's Spectre/Meltdown work costs TCG about a tenth of its CPU
# (the header-less pair: 410 s of user time against 365 s with it off); nothing kvc does depends on it.
cmdline="console=ttyS0 root=/dev/vda rw panic=-1 mitigations=off ${KVC_E2E_VERBOSE:+systemd.show_status=true}${KVC_E2E_VERBOSE:-quiet loglevel=3 systemd.show_status=false} $append"
if [ "$secure_boot" = yes ]; then
	# The firmware's variables live beside the disk; the ESP is made anew each boot (the kernel of
	# this boot, its command line), GRUB reading EFI/debian/grub.cfg as Debian's signed one does.
	[ -s "$disk.vars" ] || cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$disk.vars"
	esp=$disk.esp
	rm -f "$esp"
	truncate -s 96M "$esp"
	mkfs.vfat -F 32 -n KVCESP "$esp" >/dev/null
	export MTOOLS_SKIP_CHECK=1
	mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/debian
	mcopy -i "$esp" /usr/lib/shim/shimx64.efi.signed ::/EFI/BOOT/BOOTX64.EFI
	mcopy -i "$esp" /usr/lib/shim/mmx64.efi.signed ::/EFI/BOOT/mmx64.efi
	mcopy -i "$esp" /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ::/EFI/BOOT/grubx64.efi
	printf 'set timeout=0\nlinux /vmlinuz %s\ninitrd /initrd.gz\nboot\n' "$cmdline" >"$work/grub.cfg"
	mcopy -i "$esp" "$work/grub.cfg" ::/EFI/debian/grub.cfg
	mcopy -i "$esp" "$cache/vmlinuz" ::/vmlinuz
	mcopy -i "$esp" "$cache/initrd.gz" ::/initrd.gz
	boot=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on
		-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
		-drive "if=pflash,format=raw,unit=1,file=$disk.vars"
		-drive "file=$disk,if=virtio,format=raw" -drive "file=$esp,if=virtio,format=raw")
else
	boot=(-kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz" -append "$cmdline" -drive "file=$disk,if=virtio,format=raw")
fi
if [ -n "$mok_password" ]; then
	[ "$secure_boot" = yes ] || { echo "run-guest: --mokmanager needs --secure-boot" >&2; exit 64; }
	# QEMU waits for the driver on its serial socket; the driver keeps the console log.
	sock=$work/serial.sock
	: >"$log"
	node=$(dirname "$0")/../../../node_modules/.bin/node
	timeout --kill-after=10 "$timeout" qemu-system-x86_64 -accel tcg -smp 2 -m 3072 -display none -monitor none -no-reboot \
		-serial "unix:$sock,server=on,wait=on" "${boot[@]}" "${devices[@]}" </dev/null &
	qemu=$!
	set +e
	"$node" "$(dirname "$0")/mokmanager.mjs" "$sock" "$log" "$mok_password"
	status=$?
	# The driver gave up: the guest waits at a screen; stop it rather than its deadline.
	[ "$status" = 0 ] || kill "$qemu" 2>/dev/null
	wait "$qemu"
	set -e
	exit "$status"
fi
set +e
timeout --kill-after=10 "$timeout" qemu-system-x86_64 -accel tcg -smp 2 -m 3072 -nographic -no-reboot \
	"${boot[@]}" "${devices[@]}" \
	</dev/null 2>&1 | sed -u 's/\r$//' | tee "$log" | grep --line-buffered -E '^(KVC-E2E|  \| )' | sed -u "s|^|${KVC_E2E_TAG:-}|" >&2
status=${PIPESTATUS[0]}
set -e
[ "$status" = 124 ] && say "timed out after $timeout s"
grep -qE '^KVC-E2E: DONE pass=[0-9]+ fail=0$' "$log"
