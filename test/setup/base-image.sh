#!/usr/bin/env bash
# Makes the base image the Containerfiles name (docker.io/library/debian:bookworm) without a
# registry: debootstrap a minimal Debian 12 (with bookworm-updates and bookworm-security, where
# current kernel headers are), then `podman import` it under that name. The rootfs tarball is
# cached, so a later run only imports.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
image=docker.io/library/debian:bookworm
cache=${KVC_TEST_CACHE:-/var/cache/kvc-test}
tarball=$cache/bookworm-rootfs.tar
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if podman image exists "$image"; then
	echo "base-image: $image present"
	exit 0
fi
start=$(date +%s)
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
	root=$(mktemp -d "$cache/rootfs.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	echo "base-image: debootstrap bookworm (about a minute)"
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log"; exit 1; }
	cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://security.debian.org/debian-security bookworm-security main
SOURCES
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	tar -C "$root" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
fi
podman import --quiet "$tarball" "$image" >/dev/null
echo "base-image: imported $image in $(($(date +%s) - start)) s"
