#!/usr/bin/env bash
# `npm start`: puts Node.js 24 first on PATH (fetched once into a cache when the machine's is older),
# installs what is missing, builds or reuses the Temporal CLI, then brings the whole system up in the
# foreground (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
node_bin=$(bash scripts/ensure-node.sh)
export PATH="$node_bin:$PATH"
echo "[start] Node.js $(node --version) ($node_bin/node)"
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[start] installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
bash scripts/ensure-temporal.sh >/dev/null
# The cluster profile (`npm start -- --cluster`) runs the Temporal server proper, built once the same way.
if [[ " $* " == *" --cluster "* ]]; then bash scripts/ensure-temporal-server.sh >/dev/null; fi
# The web app the API serves at /: built when web/dist is missing or its inputs changed.
bash scripts/build-web.sh
exec node --enable-source-maps --import tsx scripts/up.ts "$@"
