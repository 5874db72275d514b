#!/usr/bin/env bash
# Makes sure the pinned Prometheus server (for `npm start -- --observe`) exists and prints its path. Built
# once with `go install` into a cache outside the checkout. A Go-module build carries no web UI assets
# (upstream builds them with npm): the binary scrapes, stores and answers its HTTP query API.
set -euo pipefail
source "$(dirname "$0")/cached-go-build.sh"

version="${PROMETHEUS_VERSION:-v0.316.0}"
install_dir="$zenpay_cache_root/prometheus/$version"
binary="$install_dir/prometheus"

log() { printf '[ensure-prometheus] %s\n' "$*" >&2; }
built() { [[ -x "$binary" ]]; }

if [[ -n "${PROMETHEUS_PATH:-}" ]]; then
  [[ -x "$PROMETHEUS_PATH" ]] || { log "PROMETHEUS_PATH=$PROMETHEUS_PATH is not executable"; exit 1; }
  echo "$PROMETHEUS_PATH"; exit 0
fi
if built; then echo "$binary"; exit 0; fi
take_build_lock "$install_dir" "Prometheus" built "$binary"

log "building github.com/prometheus/prometheus/cmd/prometheus@$version into $install_dir (a cold build takes about 15 CPU-minutes)"
started=$(date +%s)
go_install_into "$install_dir.tmp" "github.com/prometheus/prometheus/cmd/prometheus@$version"
mv "$install_dir.tmp/prometheus" "$binary"
rm -rf "$install_dir.tmp"
log "built in $(( $(date +%s) - started ))s: $binary"
echo "$binary"
