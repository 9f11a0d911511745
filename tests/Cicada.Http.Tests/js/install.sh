#!/usr/bin/env bash
# Installs MQTT.js for the HTTP edge's tests into ./node_modules, once: does nothing when the
# pinned version is already there. Called by the test fixture; safe to run by hand.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
want=$(node -p "require('./package.json').dependencies.mqtt")
have=$(node -p "try { require('./node_modules/mqtt/package.json').version } catch { '' }" 2>/dev/null || true)
if [[ "$have" == "$want" ]]; then
  exit 0
fi
npm install --no-audit --no-fund --no-package-lock --loglevel=error >&2
