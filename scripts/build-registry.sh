#!/usr/bin/env bash
# Make the bundled registry of the Store from examples/apps, in one command:
# build the example apps (cached: nothing is rebuilt when the sources did not change), then
# pack, index and sign them into $ROOST_DATA/registry (default .roost-data/registry) with the
# data directory's own key, made on first use and trusted by this Roost. See docs/registry.md.
#   scripts/build-registry.sh [--config FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/apps/build.sh
exec .venv/bin/roost "$@" registry bundle
