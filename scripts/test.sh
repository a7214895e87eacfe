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
# Two workers by default (ROOST_TEST_WORKERS=0 runs in one process); a file stays on one
# worker, so its module fixtures are set up once.
WORKERS=(-n "${ROOST_TEST_WORKERS:-2}" --dist loadfile)
echo "== pytest"
set +e
.venv/bin/pytest "${WORKERS[@]}" "$@"
status=$?
set -e
# pytest's exit 5 ("no tests collected") only happens with a filter that matched nothing.
if [ "$status" -eq 5 ]; then
  echo "no test matched the given filter" >&2
fi
# The whole run (no filter) also runs the file suites on the S3 blob store (a SeaweedFS
# started by the fixtures): the VFS, /files, WebDAV with litmus, and the two-stack tests.
if [ "$#" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "== pytest, files on the S3 blob store"
  set +e
  ROOST_TEST_BLOB_STORE=s3 .venv/bin/pytest "${WORKERS[@]}" tests/vfs tests/web/test_files_content.py \
    tests/web/test_files_tree.py tests/webdav/test_protocol.py tests/webdav/test_litmus.py \
    tests/scaleout
  status=$?
  set -e
fi
exit "$status"
