#!/usr/bin/env bash
# Build every example app (or the folders given) into DIR/app.wasm. See build.py.
#   examples/apps/build.sh                 # all examples
#   examples/apps/build.sh --force DIR...  # rebuild these, ignoring the cache
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x "$root/.venv/bin/python" ]; then py="$root/.venv/bin/python"; else py="python3"; fi
fi
exec "$py" "$here/build.py" "$@"
