#!/usr/bin/env bash
# CI check of a newcomer's first minutes: clones this repository (its committed HEAD) into a private
# (mode 700) directory or into a path with spaces, runs `npm start` there on free ports, waits for the
# /healthz it prints, answers it with curl, then presses Ctrl-C (SIGINT to the process group, as a
# terminal does) and checks that everything stopped. The Node.js, Temporal CLI and npm caches are reused.
# Usage: bash scripts/check-fresh-clone.sh private|spaces   (exit status 0: the check passed)
set -uo pipefail

case_name="${1:-}"
repo=$(cd "$(dirname "$0")/.." && pwd)
start_timeout_seconds=${FRESH_CLONE_START_TIMEOUT_SECONDS:-600}
stop_timeout_seconds=60
report_every_seconds=15

log() { printf '[fresh-clone %s] %s\n' "$case_name" "$*"; }

base=$(mktemp -d) # mode 700
case "$case_name" in
  private) clone="$base/zenpay" ;;
  spaces) chmod 755 "$base"; clone="$base/with space/zen pay" ;;
  *) echo "usage: bash scripts/check-fresh-clone.sh private|spaces" >&2; exit 2 ;;
esac
output="$base/npm-start.log"
pid=""
relocated=""

cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  [[ -n "$pid" ]] && pkill -KILL -g "$pid" 2>/dev/null
  pkill -KILL -f -- "$clone" 2>/dev/null
  [[ -n "$relocated" ]] && pkill -KILL -f -- "$relocated" 2>/dev/null
  sleep 0.5
  rm -rf "$base"
  [[ "$relocated" == /var/lib/zenpay/postgres/* ]] && rm -rf "$relocated"
}
trap cleanup EXIT

fail() {
  log "FAILED: $*"
  if [[ -f "$output" ]]; then
    log "last lines of npm start:"
    tail -n 40 "$output" | sed 's/^/    /'
  fi
  exit 1
}

started=$SECONDS
log "cloning $repo into '$clone'"
mkdir -p "$(dirname "$clone")"
git clone --quiet "$repo" "$clone" || fail "git clone failed"
ls -ld "$base" | sed 's/^/    /'

# Free loopback ports: every listener is held open until all are known, so none is picked twice.
ports=$(node -e '
  const net = require("net");
  (async () => {
    const servers = [];
    for (let i = 0; i < 6; i++) {
      const server = net.createServer();
      await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
      servers.push(server);
    }
    console.log(servers.map((server) => server.address().port).join(" "));
    for (const server of servers) server.close();
  })();') || fail "could not find free ports"
read -r api_port bank_port sms_port temporal_port ui_port postgres_port <<<"$ports"
log "npm start with API_PORT=$api_port BANK_SIM_PORT=$bank_port SMS_SIM_PORT=$sms_port TEMPORAL_PORT=$temporal_port TEMPORAL_UI_PORT=$ui_port POSTGRES_PORT=$postgres_port (node on PATH: $(node --version))"

# setsid: its own process group, which gets the SIGINT a terminal's Ctrl-C would send.
(cd "$clone" && API_PORT=$api_port BANK_SIM_PORT=$bank_port SMS_SIM_PORT=$sms_port TEMPORAL_PORT=$temporal_port \
  TEMPORAL_UI_PORT=$ui_port POSTGRES_PORT=$postgres_port exec setsid npm start </dev/null) >"$output" 2>&1 &
pid=$!

health=""
next_report=$((SECONDS + report_every_seconds))
while [[ -z "$health" ]]; do
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "npm start exited with status $? before it was up"; }
  (( SECONDS - started < start_timeout_seconds )) || fail "not up after ${start_timeout_seconds} s"
  health=$(grep -oE 'Health +http://[^ ]+/healthz' "$output" | awk '{print $2}' | tail -n 1)
  if (( SECONDS >= next_report )); then
    log "waiting for npm start ($((SECONDS - started)) s): $(grep -v '^\s*$' "$output" | tail -n 1 | cut -c1-140)"
    next_report=$((SECONDS + report_every_seconds))
  fi
  [[ -n "$health" ]] || sleep 1
done
log "up after $((SECONDS - started)) s; $(grep -m1 '^\[start\] Node.js' "$output")"
grep -q '^\[start\] Node.js v24\.' "$output" || fail "npm start did not run on Node.js 24"
[[ "$health" == "http://127.0.0.1:$api_port/healthz" ]] || fail "printed health URL $health is not on API_PORT $api_port"
grep -E 'EBADENGINE|npm warn deprecated' "$output" && fail "npm ci printed engine or deprecation warnings"

body=$(curl -fsS --max-time 10 "$health") || fail "GET $health failed"
log "GET $health: $body"

if [[ -L "$clone/.data/postgres" ]]; then
  relocated=$(readlink "$clone/.data/postgres")
  log "PostgreSQL data relocated: .data/postgres -> $relocated"
else
  [[ -d "$clone/.data/postgres" ]] || fail "no PostgreSQL data directory under .data"
  log "PostgreSQL data in place: $clone/.data/postgres"
fi
grep -m1 'PostgreSQL data is in' "$output" | sed 's/^/    /'

log "Ctrl-C: SIGINT to the process group of npm start"
kill -INT -- "-$pid"
stop_started=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
  (( SECONDS - stop_started < stop_timeout_seconds )) || fail "npm start still running ${stop_timeout_seconds} s after SIGINT"
  sleep 0.5
done
wait "$pid"
status=$?
log "npm start exited with status $status after $((SECONDS - stop_started)) s"
grep -q '\[zenpay\] stopped' "$output" || fail "npm start did not say it stopped"
sleep 1
leftovers=$( { pgrep -g "$pid"; pgrep -f -- "$clone"; [[ -n "$relocated" ]] && pgrep -f -- "$relocated"; } | sort -u)
if [[ -n "$leftovers" ]]; then
  ps -o pid,user,args -p "$(echo $leftovers | tr ' ' ',')" | sed 's/^/    /'
  fail "processes left running after Ctrl-C"
fi
curl -fsS --max-time 2 "$health" >/dev/null 2>&1 && fail "$health still answers after Ctrl-C"
log "passed in $((SECONDS - started)) s"
