#!/usr/bin/env bash
# Makes sure the pinned Temporal CLI (which embeds `temporal server start-dev`) exists and prints its path.
# It is built once with `go install` into a cache outside the checkout and reused by every clone.
set -euo pipefail
source "$(dirname "$0")/cached-go-build.sh"

version="${TEMPORAL_CLI_VERSION:-v1.5.1}"
install_dir="$zenpay_cache_root/temporal-cli/$version"
binary="$install_dir/temporal"

log() { printf '[ensure-temporal] %s\n' "$*" >&2; }
built() { [[ -x "$binary" ]]; }

if [[ -n "${TEMPORAL_CLI_PATH:-}" ]]; then
  [[ -x "$TEMPORAL_CLI_PATH" ]] || { log "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not executable"; exit 1; }
  echo "$TEMPORAL_CLI_PATH"; exit 0
fi
if built; then echo "$binary"; exit 0; fi
if [[ "${ZENPAY_USE_PATH_TEMPORAL:-1}" == "1" ]] && command -v temporal >/dev/null 2>&1; then
  command -v temporal; exit 0
fi
take_build_lock "$install_dir" "the Temporal CLI" built "$binary"

log "building github.com/temporalio/cli/cmd/temporal@$version into $install_dir (cold builds take several minutes)"
started=$(date +%s)
go_install_into "$install_dir.tmp" "github.com/temporalio/cli/cmd/temporal@$version"
mv "$install_dir.tmp/temporal" "$binary"
rm -rf "$install_dir.tmp"
log "built in $(( $(date +%s) - started ))s: $binary"
echo "$binary"
