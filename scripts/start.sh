#!/usr/bin/env bash
# Quick start, command 1: install what is missing, create the demo instance
# alice.localhost (prints its URL and passphrase), and serve on http://alice.localhost:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Store's bundled registry (the example apps and importers, built and signed) is made
# in the background the first time: the Store lists them once it is ready (a few minutes).
data="${ROOST_DATA:-.roost-data}"
if [ ! -f "$data/registry/index.json" ]; then
  mkdir -p "$data"
  echo "Building the Store's apps in the background (log: $data/registry-build.log)"
  nohup bash scripts/build-registry.sh > "$data/registry-build.log" 2>&1 &
fi
exec .venv/bin/roost serve --demo "$@"
