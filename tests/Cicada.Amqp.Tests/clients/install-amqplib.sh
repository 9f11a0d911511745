#!/usr/bin/env bash
# Installs the npm amqplib client into clients/node_modules (gitignored) once; a no-op after that.
# The test fixture calls it; run it by hand to prepare an offline machine.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -f "$DIR/node_modules/amqplib/package.json" ]]; then
  exit 0
fi
cd "$DIR"
npm install --no-save --no-audit --no-fund --silent --prefix "$DIR" amqplib@2 >&2
