"""What every host function shares: the guard, the one permission decision, the budgets.

Every host function:

- finds the run (grant, services, loop, budgets) in :data:`roost.apps.context.CURRENT_RUN`;
- asks :func:`roost.permissions.decide` (with ``now``: an expired grant refuses *every* call)
  before delegating to a service;
- answers ``HIDE`` exactly like a missing item: ``not_found`` / ``"missing"``, the same code
  and message as an id that does not exist, so no host call is an existence oracle;
- is charged to the run's host-call budget (calls and bytes), after which it answers
  ``budget_exhausted``;
- returns ``Variant('ok', json)`` or ``Variant('err', json)`` and **never raises** (an
  exception in a wasmtime-py host function is stashed in a process-global and re-raised in
  whichever thread calls wasm next);
- adds to the run's aggregated access entries (one per kind of call, refusals included).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from wasmtime import component

from roost.apps.context import CURRENT_RUN, RunContext
from roost.apps.services import AccessEntry, EgressDenied, Invalid, NotFound, ServiceError
from roost.permissions import (
    FILES_DOCTYPE,
    Decision,
    DocumentTarget,
    Hidden,
    InvalidRule,
    PermissionDenied,
    PermissionSet,
    Surface,
    Target,
    decide,
)

__all__ = [
    "ANSWER_BYTES",
    "FILES_DOCTYPE",
    "MAX_PAYLOAD_BYTES",
    "MISSING",
    "Call",
    "HostImpl",
    "decide_now",
    "enforce",
    "error_json",
    "guard",
    "json_object",
    "missing",
    "need_service",
    "readable",
    "require_some_rule",
]

#: The largest JSON payload a guest may pass in one call.
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
#: The one message for "no such item" and "an item you may not see".
MISSING = "missing"


def error_json(code: str, message: str) -> str:
    return json.dumps({"error": code, "message": message})


def _ok(value: Any) -> component.Variant:
    return component.Variant("ok", value if isinstance(value, str) else json.dumps(value))


def _err(code: str, message: str) -> component.Variant:
    return component.Variant("err", error_json(code, message))


def missing() -> NotFound:
    return NotFound(MISSING)


#: ``Call.bytes`` for "as many bytes as the answer": `guard` fills it in from the answer it
#: serialises anyway, so an answer of documents is not serialised twice to be measured.
ANSWER_BYTES: Final = -1


class Call:
    """Book-keeping for one host call: the access entry it will leave."""

    def __init__(self, run: RunContext, interface: str, function: str, verb: str, doctype: str):
        self.run = run
        self.interface = interface
        self.function = function
        self.verb = verb
        self.doctype = doctype
        self.count = 0
        self.bytes = 0
        self.ids: tuple[str, ...] = ()
        self.egress_host: str | None = None

    def done(self, allowed: bool, error: str | None = None) -> None:
        self.run.record(
            AccessEntry(
                at=time.time(),
                app=self.run.app,
                interface=self.interface,
                function=self.function,
                verb=self.verb,
                doctype=self.doctype,
                allowed=allowed,
                count=self.count,
                bytes=self.bytes,
                ids=self.ids[:20],
                egress_host=self.egress_host,
                error=error,
                job_id=self.run.job_id,
            )
        )


HostImpl = Callable[[RunContext, Call, tuple[Any, ...]], Any]


def guard(interface: str, function: str, verb: str, impl: HostImpl) -> Callable[..., Any]:
    """Wrap ``impl`` so that it never raises, is charged to the budget and leaves an entry."""

    def host(_store: Any, *args: Any) -> component.Variant:
        run = CURRENT_RUN.get()
        if run is None:
            return _err("internal", "no run context")
        doctype = args[0] if interface == "data" and args and isinstance(args[0], str) else ""
        if interface == "files":
            doctype = FILES_DOCTYPE
        call = Call(run, interface, function, verb, doctype)
        try:
            size = 0
            for arg in args:
                if isinstance(arg, str):
                    if len(arg) > MAX_PAYLOAD_BYTES:
                        raise Invalid(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
                    size += len(arg)
            run.charge_call(size)
            result = impl(run, call, args)
            text = result if isinstance(result, str) else json.dumps(result)
            if call.bytes == ANSWER_BYTES:
                call.bytes = len(text)
            run.charge_bytes(len(text))
        except Hidden:  # outside the grant: answered exactly like a missing item
            call.done(False, "forbidden")
            return _err("not_found", MISSING)
        except PermissionDenied as exc:
            call.done(False, "forbidden")
            return _err("forbidden", exc.reason)
        except EgressDenied as exc:
            call.done(False, exc.code)
            return _err(exc.code, str(exc))
        except NotFound:
            call.done(True, "not_found")
            return _err("not_found", MISSING)
        except ServiceError as exc:
            call.done(exc.code not in ("budget_exhausted",), exc.code)
            return _err(exc.code, str(exc))
        except InvalidRule as exc:
            call.done(False, "invalid")
            return _err("invalid", str(exc))
        except Exception as exc:  # never let an exception reach wasmtime
            call.done(True, "internal")
            return _err("internal", f"{type(exc).__name__}: {exc}"[:500])
        call.done(True)
        return _ok(text)

    return host


def json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Invalid(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Invalid(f"{what} must be a JSON object")
    return value


def need_service(service: Any, name: str) -> Any:
    if service is None:
        raise ServiceError(f"the {name} service is not available here", code="unavailable")
    return service


def decide_now(
    grant: PermissionSet,
    verb: str,
    doctype: str,
    target: Target | None,
    *,
    surface: Surface = "data",
    visible: Target | None = None,
) -> Decision:
    return decide(
        grant, verb, doctype, target, now=datetime.now(UTC), surface=surface, visible=visible
    )


def enforce(
    run: RunContext,
    verb: str,
    doctype: str,
    target: Target | None,
    *,
    surface: Surface = "data",
    visible: Target | None = None,
) -> None:
    """The one decision, enforced: raises ``Hidden`` or ``PermissionDenied``."""
    decide_now(run.grant, verb, doctype, target, surface=surface, visible=visible).enforce()


def require_some_rule(
    run: RunContext, verb: str, doctype: str, probe: Target, *, surface: Surface = "data"
) -> None:
    """Refuse openly when the grant has no ``verb`` rule on ``doctype`` at all (or expired).

    Asked before any lookup, so that whether an item exists never changes the answer. A
    probe target the grant does not cover makes ``decide`` answer ``HIDE``: that only means
    "look the item up and decide on it", never a refusal.
    """
    try:
        enforce(run, verb, doctype, probe, surface=surface, visible=probe)
    except Hidden:
        return


def readable(run: RunContext, doctype: str) -> Callable[[Mapping[str, Any]], bool]:
    """Which documents of `doctype` the run's grant lets it read, decided once for a whole
    answer: when the grant covers the whole doctype, `decide` says so once and every
    document is readable (a `find` of 100 documents made 100 decisions); otherwise each
    document is decided on, at the same moment."""
    grant, now = run.grant, datetime.now(UTC)
    if decide(grant, "GET", doctype, None, now=now).allowed:
        return _every_document
    return lambda doc: decide(grant, "GET", doctype, DocumentTarget(doc), now=now).allowed


def _every_document(doc: Mapping[str, Any]) -> bool:
    return True


def request_body(req: Mapping[str, Any], *, encode_errors: str = "strict") -> bytes:
    """An outbound request's body from a guest's JSON: ``body_base64`` (bytes) or ``body``
    (text, UTF-8 encoded with ``encode_errors``); none is empty."""
    if "body_base64" in req:
        try:
            return base64.b64decode(str(req["body_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("body_base64 is not valid base64") from None
    if "body" in req:
        if not isinstance(req["body"], str):
            raise Invalid("body must be a string (JSON-encode it yourself)")
        return req["body"].encode("utf-8", encode_errors)
    return b""
