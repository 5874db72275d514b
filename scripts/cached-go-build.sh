# Sourced by scripts/ensure-*.sh: what each does around its own build of a pinned Go program into a cache
# outside the checkout, reused by every clone. The sourcing script defines log() first.

zenpay_cache_root="${ZENPAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zenpay}"

# take_build_lock DIR WHAT READY RESULT: needs Go; waits for DIR's build lock (one build of it per machine
# at a time), then, when the command READY says another process built it meanwhile, prints RESULT and exits.
take_build_lock() {
  local dir=$1 what=$2 ready=$3 result=$4
  command -v go >/dev/null 2>&1 || { log "Go is required to build $what (none on PATH)"; exit 1; }
  mkdir -p "$dir"
  exec 9>"$dir/.build.lock"
  log "waiting for build lock $dir/.build.lock"
  flock 9
  if "$ready"; then echo "$result"; exit 0; fi
}

# go_install_into GOBIN ARGS...: go install into an emptied GOBIN; if that fails, again with
# -ldflags=-checklinkname=0 (newer Go refuses some linkname uses that older modules make).
go_install_into() {
  local gobin=$1; shift
  rm -rf "$gobin"
  if ! GOBIN="$gobin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$@"; then
    log "plain build failed; retrying with -ldflags=-checklinkname=0"
    GOBIN="$gobin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install -ldflags=-checklinkname=0 "$@"
  fi
}
