#!/usr/bin/env bash
# Makes sure the pinned Temporal server, its SQL schema tool, the PostgreSQL schema files and (when it
# builds) the Temporal UI server exist, and prints the directory that holds them. Built once with
# `go install` into a cache outside the checkout and reused by every clone (the cluster profile).
set -euo pipefail
source "$(dirname "$0")/cached-go-build.sh"

version="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
ui_version="${TEMPORAL_UI_SERVER_VERSION:-v2.42.1}"
install_dir="$zenpay_cache_root/temporal-server/$version"
server="$install_dir/temporal-server"
sql_tool="$install_dir/temporal-sql-tool"
schema="$install_dir/schema/postgresql/v12"
ui_server="$install_dir/temporal-ui-server"
# A UI build that failed once is not tried again on every start (remove this file to try again).
ui_failed="$install_dir/ui-server-build-failed"

log() { printf '[ensure-temporal-server] %s\n' "$*" >&2; }
complete() { [[ -x "$server" && -x "$sql_tool" && -f "$schema/temporal/versioned/v1.0/manifest.json" ]] && { [[ -x "$ui_server" || -f "$ui_failed" ]]; }; }

if complete; then echo "$install_dir"; exit 0; fi
take_build_lock "$install_dir" "the Temporal server" complete "$install_dir"

started=$(date +%s)
if [[ ! -x "$server" || ! -x "$sql_tool" ]]; then
  log "building go.temporal.io/server/cmd/server and cmd/tools/sql@$version into $install_dir (cold builds take several minutes)"
  go_install_into "$install_dir.tmp" "go.temporal.io/server/cmd/server@$version" "go.temporal.io/server/cmd/tools/sql@$version"
  mv "$install_dir.tmp/sql" "$sql_tool"
  mv "$install_dir.tmp/server" "$server"
  rm -rf "$install_dir.tmp"
fi

if [[ ! -f "$schema/temporal/versioned/v1.0/manifest.json" ]]; then
  # The schema ships in the module's source; copied so that nothing later depends on GOMODCACHE.
  module_dir=$(cd / && go mod download -json "go.temporal.io/server@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d "$module_dir/schema/postgresql/v12" ]] || { log "no PostgreSQL schema in $module_dir"; exit 1; }
  rm -rf "$install_dir/schema.tmp"
  mkdir -p "$install_dir/schema.tmp/postgresql"
  cp -R "$module_dir/schema/postgresql/v12" "$install_dir/schema.tmp/postgresql/"
  chmod -R u+w "$install_dir/schema.tmp"
  rm -rf "$install_dir/schema"
  mv "$install_dir/schema.tmp" "$install_dir/schema"
fi

if [[ ! -x "$ui_server" && ! -f "$ui_failed" ]]; then
  log "building github.com/temporalio/ui-server/v2/cmd/server@$ui_version (the Temporal UI, the one the CLI embeds)"
  if go_install_into "$install_dir.ui.tmp" "github.com/temporalio/ui-server/v2/cmd/server@$ui_version"; then
    mv "$install_dir.ui.tmp/server" "$ui_server"
  else
    log "the Temporal UI server did not build: the cluster profile runs without a UI"
    date -u +%FT%TZ > "$ui_failed"
  fi
  rm -rf "$install_dir.ui.tmp"
fi
log "ready in $(( $(date +%s) - started ))s: $install_dir"
echo "$install_dir"
