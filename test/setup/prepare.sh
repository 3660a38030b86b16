#!/usr/bin/env bash
# Prepares this machine for kvc's tests and demo, from nothing, idempotently: Debian packages
# (podman, runc, debootstrap, qemu…), the project's own Node (npm package "node"), and the
# Debian base image made locally (no image registry is reachable here).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/test/setup/containers.conf}"
test/setup/install-host-deps.sh
[ -x node_modules/.bin/node ] || scripts/npm-pinned.sh ci --no-audit --no-fund
test/setup/base-image.sh
