#!/usr/bin/env bash
# Prints the path of a Chromium for the web app's browser tests, installing Debian's package (apt-get)
# only when none is there. Tests drive it with playwright-core; no browser is downloaded from elsewhere.
set -euo pipefail
for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    echo "$candidate"
    exit 0
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "Chromium is missing: install it (apt-get install chromium) or set CHROMIUM_PATH" >&2
  exit 1
fi
echo "[web] installing Chromium (apt-get install chromium)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium >&2
echo /usr/bin/chromium
