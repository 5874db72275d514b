#!/usr/bin/env bash
# `npm start`: installs what is missing, builds or reuses the Temporal CLI, then brings the whole
# system up in the foreground (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[start] installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
bash scripts/ensure-temporal.sh >/dev/null
exec node --enable-source-maps --import tsx scripts/up.ts
