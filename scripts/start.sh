#!/usr/bin/env bash
# Quick start, command 1: install what is missing, create the demo instance
# alice.localhost (prints its URL and passphrase), and serve on http://alice.localhost:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/roost serve --demo "$@"
