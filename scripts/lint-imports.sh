#!/usr/bin/env bash
# The import contracts of .importlinter (the layering in docs/architecture.md). Like mypy,
# import-linter cannot follow setuptools' package-dir through an editable install, so it
# reads the same tree of symlinks named as imported (made by scripts/typecheck.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .cache/typecheck/roost ] || bash scripts/typecheck.sh >/dev/null
PYTHONPATH=.cache/typecheck exec .venv/bin/lint-imports .importlinter "$@"
