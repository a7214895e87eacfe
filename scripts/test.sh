#!/usr/bin/env bash
# Quick start, command 2: the whole test suite (what CI runs), with lint and types first.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow" tests/permissions`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-deps.sh

PACKAGES=(stack permissions webdav apps-runtime)
echo "== ruff"
.venv/bin/ruff check "${PACKAGES[@]}" tests bench
.venv/bin/ruff format --check "${PACKAGES[@]}" tests bench
echo "== mypy (--strict on the packages, then the tests)"
bash scripts/typecheck.sh
echo "== import contracts"
bash scripts/lint-imports.sh
echo "== pytest"
set +e
.venv/bin/pytest "$@"
status=$?
set -e
# pytest's exit 5 ("no tests collected") only happens with a filter that matched nothing.
if [ "$status" -eq 5 ]; then
  echo "no test matched the given filter" >&2
fi
exit "$status"
