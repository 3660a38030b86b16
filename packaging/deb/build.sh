#!/bin/sh
# Builds kvc_<version>_<arch>.deb with dpkg-deb from the tree of
# `make install DESTDIR=TREE PREFIX=/usr SYSCONFDIR=/etc` (`make deb` runs both). dpkg-deb and not
# dpkg-buildpackage: the program is already built (the bundle, the pinned Node checked against
# node.sha256); debhelper would only add a source package and its build dependencies around the
# same files. What dh_* would do is done here: man pages gzipped, copyright and changelog in the
# doc folder, conffiles, md5sums, shared-library Depends from dpkg-shlibdeps, maintainer scripts.
#   packaging/deb/build.sh TREE OUTDIR VERSION
set -eu
tree=$1 out=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-kvc maintainers <kvc@users.noreply.github.com>}
work=$(mktemp -d "${TMPDIR:-/tmp}/kvc-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg=$work/kvc
cp -a "$tree" "$pkg"
[ ! -e "$pkg/usr/local" ] || { echo "build.sh: $tree has usr/local: install with PREFIX=/usr" >&2; exit 1; }
# The kernel hooks (one script, told apart by its folder).
install -D -m 755 "$here/../kernel/kvc" "$pkg/etc/kernel/postinst.d/kvc"
install -D -m 755 "$here/../kernel/kvc" "$pkg/etc/kernel/postrm.d/kvc"
# Debian's places: zsh's vendor completions; man pages gzipped; copyright and changelog.
if [ -d "$pkg/usr/share/zsh/site-functions" ]; then
	mkdir -p "$pkg/usr/share/zsh/vendor-completions"
	mv "$pkg/usr/share/zsh/site-functions/"* "$pkg/usr/share/zsh/vendor-completions/"
	rmdir "$pkg/usr/share/zsh/site-functions"
fi
find "$pkg/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +
doc=$pkg/usr/share/doc/kvc
install -m 644 "$here/copyright" "$doc/copyright"
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)}")
printf 'kvc (%s) unstable; urgency=medium\n\n  * Built from the kvc repository (make deb); see its git log.\n\n -- %s  %s\n' \
	"$version" "$maintainer" "$date" | gzip -9n >"$doc/changelog.gz"
install -m 644 "$here/lintian-overrides" -D "$pkg/usr/share/lintian/overrides/kvc"
# Owners and modes as a package has them.
find "$pkg" -type d -exec chmod 755 {} +
mkdir -p "$pkg/DEBIAN"
for script in postinst prerm postrm; do install -m 755 "$here/$script" "$pkg/DEBIAN/$script"; done
(cd "$pkg" && find etc -type f | sort | sed 's|^|/|') >"$pkg/DEBIAN/conffiles"
(cd "$pkg" && find usr -type f | sort | xargs md5sum) >"$pkg/DEBIAN/md5sums"
# The shared libraries the pinned Node links (libc6, libstdc++6, libgcc-s1), as dpkg-shlibdeps finds them.
mkdir -p "$work/shlibs/debian"
printf 'Source: kvc\n\nPackage: kvc\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$pkg/usr/lib/kvc/node" 2>"$work/shlibs.err" | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { cat "$work/shlibs.err" >&2; echo "build.sh: dpkg-shlibdeps found no dependencies of usr/lib/kvc/node (is dpkg-dev installed?)" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s|@VERSION@|$version|; s|@ARCH@|$arch|; s|@MAINTAINER@|$maintainer|; s|@SIZE@|$size|; s|@SHLIBS@|$shlibs|" \
	"$here/control.in" >"$pkg/DEBIAN/control"
deb=$out/kvc_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz -b "$pkg" "$deb" >/dev/null
echo "$deb"
