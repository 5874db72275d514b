#!/usr/bin/env bash
# `npm test`: puts Node.js 24 first on PATH (see ensure-node.sh), installs the npm packages on a fresh
# clone, builds the web app when stale (build-web.sh), type-checks with tsc 5.9, then runs every jest suite. Jest's global setup starts what the tests
# need (an in-memory Temporal dev server, an embedded PostgreSQL); nothing has to be running.
set -euo pipefail
cd "$(dirname "$0")/.."
node_bin=$(bash scripts/ensure-node.sh)
export PATH="$node_bin:$PATH"
if [[ ! -d node_modules ]]; then
  echo "[test] installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
elif [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  # Not reinstalled here: npm ci would pull node_modules from under other runs in this checkout.
  echo "[test] warning: package-lock.json is newer than node_modules; run npm ci when nothing else runs here"
fi
# The web app (web/dist) for its browser tests (web/e2e.test.ts); built only when its inputs changed.
bash scripts/build-web.sh
echo "[test] type-checking (tsc --noEmit) on Node.js $(node --version)"
npx tsc --noEmit -p tsconfig.json
echo "[test] running jest"
exec npx jest --ci "$@"
