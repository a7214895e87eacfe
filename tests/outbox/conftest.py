"""The outbox tests reuse the app fixtures: real components built by examples/apps/build.sh."""

from tests.apps.conftest import (  # noqa: F401 - fixtures
    doc_stats,
    doc_stats_wasm,
    examples_built,
    owner,
    runtime,
    stack_apps_ready,
)
