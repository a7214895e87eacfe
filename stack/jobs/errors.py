"""Errors of the jobs package, each an HTTP-mapped domain error of `roost.errors`."""

from __future__ import annotations

from roost.errors import BadRequest, NotFound


class InvalidTrigger(BadRequest):
    """A trigger's type or arguments cannot be understood."""

    error = "invalid_trigger"


class UnknownWorker(NotFound):
    """No worker of that name is registered in this stack."""

    error = "unknown_worker"
