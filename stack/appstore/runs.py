"""What a run's outcome looks like outside the sandbox: bounded, strict JSON, never a 500.

A guest's result and error are text it chose. The runner already refused anything over the
output cap (``apps_max_output_bytes``, 1 MiB by default); here the text is parsed with the
stack's strict JSON parser (the one request bodies go through: no NaN/Infinity, no number
overflowing a double, no lone surrogate, at most 100 levels deep). Strict JSON is shown as
JSON; anything else is shown as a string, with lone surrogates replaced, so the run
endpoint, the jobs API and every page that shows a job can always encode it.
"""

from __future__ import annotations

from typing import Any

from roost.apps.runner import RunResult
from roost.errors import RoostError
from roost.jobs.runner import BudgetHit
from roost.strict_json import parse_json

__all__ = ["describe_run", "guest_value", "job_result", "safe_text"]


def safe_text(text: str) -> str:
    """``text`` with lone surrogates (which UTF-8 cannot encode) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


def guest_value(text: str | None) -> Any:
    """A guest's output: its JSON value when strict JSON, else the text itself."""
    if text is None:
        return None
    try:
        return parse_json(text)
    except RoostError:
        return safe_text(text)


def describe_run(result: RunResult) -> dict[str, Any]:
    """The JSON answer of ``POST /apps/{slug}/run``."""
    return {
        "ok": result.ok,
        "output": guest_value(result.output),
        "error": guest_value(result.error),
        "reason": result.reason,
        "budget_hit": list(result.marks),
        "fuel_used": result.fuel_used,
        "wall_ms": round(result.wall_seconds * 1000, 3),
        "log": [{**line.to_json(), "message": safe_text(line.message)} for line in result.log],
    }


def job_result(slug: str, result: RunResult) -> dict[str, Any]:
    """The ``app`` worker's job result, or the exception that fails the job.

    A run that hit a budget raises :class:`BudgetHit`: the job is not retried and its
    trigger is backed off. Any other failure may be transient and is retried.
    """
    error = safe_text(f"{slug}: {result.reason}: {result.error}")[:2000]
    if result.hit_budget:
        if result.ok:
            raise BudgetHit(f"{slug}: hit its {', '.join(result.marks)} budget")
        raise BudgetHit(error)
    if not result.ok:
        raise RuntimeError(error)
    return {"slug": slug, "output": guest_value(result.output)}
