"""``roost:app/log``: the run's log, shown to the person with the job.

Not a guarded call: it touches no data, costs no host-call budget, and the run's log is
capped in bytes by :class:`roost.apps.context.RunLog`.
"""

from __future__ import annotations

from typing import Any

from roost.apps.context import CURRENT_RUN

__all__ = ["log"]


def log(_store: Any, level: Any, message: Any) -> None:
    run = CURRENT_RUN.get()
    if run is None:
        return
    try:
        run.log.add(str(level), str(message))
    except Exception:  # never raise into wasmtime
        return
