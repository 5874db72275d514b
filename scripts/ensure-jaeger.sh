#!/usr/bin/env bash
# Makes sure the pinned Jaeger (an OpenTelemetry trace collector and store, for `npm start -- --observe`)
# exists and prints its path. Built once from its Go module into a cache outside the checkout. Its go.mod
# has a replace directive, which `go install pkg@version` refuses: it is built as a tool of a scratch
# module instead, with the same replace. A Go-module build carries no UI assets (the Jaeger UI is built
# with npm upstream): the binary answers Jaeger's query API and shows a placeholder page at its UI port.
set -euo pipefail
source "$(dirname "$0")/cached-go-build.sh"

version="${JAEGER_VERSION:-v1.76.0}"
install_dir="$zenpay_cache_root/jaeger/$version"
binary="$install_dir/jaeger"

log() { printf '[ensure-jaeger] %s\n' "$*" >&2; }
built() { [[ -x "$binary" ]]; }

if [[ -n "${JAEGER_PATH:-}" ]]; then
  [[ -x "$JAEGER_PATH" ]] || { log "JAEGER_PATH=$JAEGER_PATH is not executable"; exit 1; }
  echo "$JAEGER_PATH"; exit 0
fi
if built; then echo "$binary"; exit 0; fi
take_build_lock "$install_dir" "Jaeger" built "$binary"

log "building github.com/jaegertracing/jaeger/cmd/jaeger@$version into $install_dir (a cold build takes 15 to 30 minutes on 2 cores)"
started=$(date +%s)
work="$install_dir.build"
rm -rf "$work"
mkdir -p "$work"
(
  cd "$work"
  go mod init zenpay-jaeger-build >/dev/null 2>&1
  # Jaeger's own go.mod pins sarama this way; a dependency's replace directives are not applied, so repeat it.
  go mod edit -replace github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0
  GOFLAGS="${GOFLAGS:-} -buildvcs=false" go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$version"
  GOFLAGS="${GOFLAGS:-} -buildvcs=false" go build -o "$work/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
)
mv "$work/jaeger" "$binary"
rm -rf "$work"
log "built in $(( $(date +%s) - started ))s: $binary"
echo "$binary"
