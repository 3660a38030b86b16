#!/bin/sh
# Runs npm with the project's pinned Node (node-linux-<arch> in package.json, its binary checked
# against node.sha256), never the host's: the host's Node may be older than the packages need
# (Debian 12's is 18 or 20; they want >= 22). Before the first `npm ci` the package is fetched
# alone with `npm pack` (which runs nothing), its binary checked, and kept in .cache/.
#   scripts/npm-pinned.sh ci --no-audit --no-fund      scripts/npm-pinned.sh test
set -eu
cd "$(dirname "$0")/.."
arch=$(uname -m | sed 's/^x86_64$/x64/; s/^aarch64$/arm64/')
version=$(sed -n "s/.*\"node-linux-$arch\": \"\([0-9.]*\)\".*/\1/p" package.json)
package=node-linux-$arch@$version
node=node_modules/node-linux-$arch/bin/node
if ! scripts/verify-node.sh "$node" "$package" 2>/dev/null; then
	cache=.cache/$package
	if ! scripts/verify-node.sh "$cache/package/bin/node" "$package" 2>/dev/null; then
		rm -rf "$cache"
		mkdir -p "$cache"
		(cd "$cache" && npm pack --silent "$package" >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz)
		scripts/verify-node.sh "$cache/package/bin/node" "$package"
	fi
	node=$cache/package/bin/node
fi
npm_cli=$(readlink -f "$(command -v npm)")
case $npm_cli in
*.js) exec "$node" "$npm_cli" "$@" ;;
*) echo "npm-pinned: $npm_cli is not npm's npm-cli.js; cannot run it with the pinned Node" >&2; exit 69 ;;
esac
