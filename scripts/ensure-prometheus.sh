#!/usr/bin/env bash
# Makes sure the pinned Prometheus server (for `npm start -- --observe`) exists and prints its path. Built
# once with `go install` into a cache outside the checkout. A Go-module build carries no web UI assets
# (upstream builds them with npm): the binary scrapes, stores and answers its HTTP query API.
set -euo pipefail

version="${PROMETHEUS_VERSION:-v0.316.0}"
cache_root="${ZENPAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zenpay}"
install_dir="$cache_root/prometheus/$version"
binary="$install_dir/prometheus"

log() { printf '[ensure-prometheus] %s\n' "$*" >&2; }

if [[ -n "${PROMETHEUS_PATH:-}" ]]; then
  [[ -x "$PROMETHEUS_PATH" ]] || { log "PROMETHEUS_PATH=$PROMETHEUS_PATH is not executable"; exit 1; }
  echo "$PROMETHEUS_PATH"; exit 0
fi
if [[ -x "$binary" ]]; then echo "$binary"; exit 0; fi
command -v go >/dev/null 2>&1 || { log "Go is required to build Prometheus (none on PATH)"; exit 1; }

mkdir -p "$install_dir"
exec 9>"$install_dir/.build.lock"
log "waiting for build lock $install_dir/.build.lock"
flock 9
if [[ -x "$binary" ]]; then echo "$binary"; exit 0; fi

log "building github.com/prometheus/prometheus/cmd/prometheus@$version into $install_dir (a cold build takes about 15 CPU-minutes)"
started=$(date +%s)
rm -rf "$install_dir.tmp"
GOBIN="$install_dir.tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/prometheus/prometheus/cmd/prometheus@$version"
mv "$install_dir.tmp/prometheus" "$binary"
rm -rf "$install_dir.tmp"
log "built in $(( $(date +%s) - started ))s: $binary"
echo "$binary"
