#!/usr/bin/env bash
# Makes sure the pinned Temporal CLI (which embeds `temporal server start-dev`) exists and prints its path.
# It is built once with `go install` into a cache outside the checkout and reused by every clone.
set -euo pipefail

version="${TEMPORAL_CLI_VERSION:-v1.5.1}"
cache_root="${ZENPAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zenpay}"
install_dir="$cache_root/temporal-cli/$version"
binary="$install_dir/temporal"

log() { printf '[ensure-temporal] %s\n' "$*" >&2; }

if [[ -n "${TEMPORAL_CLI_PATH:-}" ]]; then
  [[ -x "$TEMPORAL_CLI_PATH" ]] || { log "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not executable"; exit 1; }
  echo "$TEMPORAL_CLI_PATH"; exit 0
fi
if [[ -x "$binary" ]]; then echo "$binary"; exit 0; fi
if [[ "${ZENPAY_USE_PATH_TEMPORAL:-1}" == "1" ]] && command -v temporal >/dev/null 2>&1; then
  command -v temporal; exit 0
fi
command -v go >/dev/null 2>&1 || { log "Go is required to build the Temporal CLI (none on PATH)"; exit 1; }

mkdir -p "$install_dir"
lock="$install_dir/.build.lock"
exec 9>"$lock"
log "waiting for build lock $lock"
flock 9
if [[ -x "$binary" ]]; then echo "$binary"; exit 0; fi

log "building github.com/temporalio/cli/cmd/temporal@$version into $install_dir (cold builds take several minutes)"
started=$(date +%s)
build() {
  GOBIN="$install_dir.tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$@" "github.com/temporalio/cli/cmd/temporal@$version"
}
rm -rf "$install_dir.tmp"
if ! build; then
  log "plain build failed; retrying with -ldflags=-checklinkname=0"
  build -ldflags=-checklinkname=0
fi
mv "$install_dir.tmp/temporal" "$binary"
rm -rf "$install_dir.tmp"
log "built in $(( $(date +%s) - started ))s: $binary"
echo "$binary"
