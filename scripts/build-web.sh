#!/usr/bin/env bash
# Builds the web app (web/dist, served by the API at /) when it is missing or any of its inputs changed:
# web/'s sources, its lock file, its build configuration and the served schema (api/schema.graphql, from
# which the operations' types are generated). Installs web/'s own packages (npm ci) when they are missing
# or older than its lock file. Under a lock, so that npm start and npm test in one checkout do not race.
set -euo pipefail
cd "$(dirname "$0")/.."
node_bin=$(bash scripts/ensure-node.sh)
export PATH="$node_bin:$PATH"
web=web
mkdir -p "$web/dist"
exec 9>"$web/.build.lock"
flock 9

inputs_hash() {
  # Paths sorted so the hash does not depend on the file system's order; the generated types are an output.
  find "$web/src" "$web/public" "$web/index.html" "$web/vite.config.mts" "$web/tsconfig.json" "$web/package-lock.json" api/schema.graphql \
    -type f ! -name graphql-env.d.ts -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

if [[ ! -d "$web/node_modules" ]] || [[ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]]; then
  echo "[web] installing the web app's npm packages (npm ci in web/)"
  (cd "$web" && npm ci --no-audit --no-fund)
fi

wanted=$(inputs_hash)
if [[ -f "$web/dist/.inputs-hash" && -f "$web/dist/index.html" && "$(cat "$web/dist/.inputs-hash")" == "$wanted" ]]; then
  echo "[web] web/dist is up to date"
  exit 0
fi
echo "[web] building the web app (types from api/schema.graphql, tsc, vite)"
cd "$web"
npx gql-tada generate output >/dev/null
npx tsc --noEmit -p tsconfig.json
npx vite build --logLevel warn
echo "$wanted" > dist/.inputs-hash
echo "[web] built web/dist"
