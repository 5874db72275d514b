#!/usr/bin/env bash
# `npm test`: type-checks with tsc 5.9, then runs every jest suite. Jest's global setup starts what the
# tests need (an in-memory Temporal dev server, an embedded PostgreSQL); nothing has to be running.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[test] type-checking (tsc --noEmit)"
npx tsc --noEmit -p tsconfig.json
echo "[test] running jest"
exec npx jest --ci "$@"
