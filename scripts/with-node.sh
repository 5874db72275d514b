#!/usr/bin/env bash
# Runs a command with the project's Node.js (24 or later, see ensure-node.sh) first on PATH, so that
# `npm run X` behaves the same when npm itself was started by an older system Node.js.
set -euo pipefail
node_bin=$(bash "$(dirname "${BASH_SOURCE[0]}")/ensure-node.sh")
export PATH="$node_bin:$PATH"
exec "$@"
