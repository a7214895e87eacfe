#!/usr/bin/env bash
# mypy --strict on the four packages, then on the tests. The folders (stack/, permissions/, webdav/,
# apps-runtime/) are mapped to `roost.*` by setuptools' package-dir, which mypy cannot
# follow through an editable install, so we give it a tree of symlinks named as imported.
set -euo pipefail
cd "$(dirname "$0")/.."
shadow=.cache/typecheck
rm -rf "$shadow"
mkdir -p "$shadow/roost"
for entry in stack/*; do
  ln -s "../../../$entry" "$shadow/roost/$(basename "$entry")"
done
for pair in permissions:permissions webdav:webdav apps-runtime:apps; do
  folder=${pair%%:*}; name=${pair##*:}
  if [ -d "$folder" ]; then
    ln -sfn "../../../$folder" "$shadow/roost/$name"
  fi
done
export MYPYPATH="$shadow"
.venv/bin/mypy --strict --cache-dir .cache/mypy -p roost "$@"
# The tests too, under pyproject's [[tool.mypy.overrides]] for tests.* (strict minus the
# fixture-parameter noise); `tests` is a package rooted here, hence explicit package bases.
.venv/bin/mypy --cache-dir .cache/mypy-tests --explicit-package-bases tests "$@"
