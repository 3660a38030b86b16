#!/usr/bin/env bash
# Installs the Debian packages kvc's tests and demo use, only those missing: podman and runc (the
# container runtime), debootstrap (base images without a registry), qemu (the end-to-end guest),
# systemd-container (nspawn for systemd tests), busybox-static, cpio, zstd, e2fsprogs, docker-registry
# (a registry on loopback for `kvc push`; the tests start their own, its packaged service stays unused),
# python3-nacl and python3-cryptography (test/setup/sigstore-keygen.py: Debian 12 has no sigstore key generator),
# gnupg and skopeo (GPG simple signing of fleet images: test keys, and a signature by another key),
# dpkg-dev (dpkg-shlibdeps for `make deb`, which the end-to-end guest installs kvc from),
# and for the Secure Boot guest ovmf, shim-signed, shim-helpers-amd64-signed, grub-efi-amd64-signed,
# dosfstools and mtools; wireguard-tools (wg genkey/pubkey for kvc usbip peer's tests); apparmor (its
# parser checks the profile kvc renders for tool containers, without loading it).
set -euo pipefail
packages=(podman runc uidmap debootstrap qemu-system-x86 systemd-container busybox-static cpio zstd e2fsprogs dbus kmod docker-registry python3-nacl python3-cryptography gnupg skopeo dpkg-dev
	ovmf shim-signed shim-helpers-amd64-signed grub-efi-amd64-signed dosfstools mtools wireguard-tools apparmor)
missing=()
for package in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
	echo "install-host-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
	# The package starts a registry on every interface's port 5000 where systemd runs: the tests
	# start their own on loopback, so the one just installed is stopped and disabled.
	if [[ " ${missing[*]} " == *" docker-registry "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
	fi
fi
echo "install-host-deps: all present"
