#!/usr/bin/env bash
# Makes the base images the Containerfiles name without a registry: debootstrap a minimal Debian 12
# (with bookworm-updates and bookworm-security, where current kernel headers are) and `podman
# import` it as docker.io/library/debian:bookworm; the same without documentation, manual pages
# and translations (and told by dpkg to install none, as Debian's own slim image is) as
# docker.io/library/debian:bookworm-slim, the base of the module images' runtime stage. The
# rootfs tarballs are cached, so a later run only imports.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
image=docker.io/library/debian:bookworm
cache=${KVC_TEST_CACHE:-/var/cache/kvc-test}
tarball=$cache/bookworm-rootfs.tar
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
slim=docker.io/library/debian:bookworm-slim
slim_tarball=$cache/bookworm-slim-rootfs.tar
if podman image exists "$image" && podman image exists "$slim"; then
	echo "base-image: $image and $slim present"
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
if [ ! -s "$slim_tarball" ]; then
	root=$(mktemp -d "$cache/slim.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	tar -C "$root" -xf "$tarball"
	rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
		"$root"/usr/share/locale/* "$root"/usr/share/groff/* "$root"/usr/share/lintian/*
	cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
EXCLUDES
	tar -C "$root" -cf "$slim_tarball.tmp" .
	mv "$slim_tarball.tmp" "$slim_tarball"
fi
podman image exists "$image" || podman import --quiet "$tarball" "$image" >/dev/null
podman image exists "$slim" || podman import --quiet "$slim_tarball" "$slim" >/dev/null
echo "base-image: imported $image and $slim in $(($(date +%s) - start)) s"
