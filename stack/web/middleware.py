"""ASGI middleware: request ids and JSON access lines; Host → instance resolution."""

from __future__ import annotations

import json
import logging
import random
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.errors import StoreUnavailable
from roost.instances import normalize_domain
from roost.logs import request_id
from roost.metrics import Metrics
from roost.services import Services

log = logging.getLogger("roost.http")

# Routes that answer on any host name, instance or not.
HOSTLESS_PATHS = ("/status", "/metrics")


def _request_id() -> str:
    """A request's id in the logs and `X-Request-Id`: unique, not secret (no system call
    per request, as `secrets` makes)."""
    return f"{random.getrandbits(64):016x}"


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["path"], scope["method"], status, elapsed)
            if log.isEnabledFor(logging.INFO):  # the line is not even built otherwise
                instance = (scope.get("state") or {}).get("instance")
                log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                            "instance": getattr(instance, "domain", None),
                        }
                    },
                )
            request_id.reset(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One line per websocket session, when it ends: 101 if it was accepted, else the
        status its handshake was refused with (403 from a close before accepting)."""
        rid = _request_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def watching_send(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if status == 0:
                if kind == "websocket.accept":
                    status = 101
                elif kind == "websocket.close":
                    status = 403
                elif kind == "websocket.http.response.start":
                    status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            instance = (scope.get("state") or {}).get("instance")
            log.info(
                "websocket",
                extra={
                    "fields": {
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "instance": getattr(instance, "domain", None),
                    }
                },
            )
            request_id.reset(token)


async def _json_answer(scope: Scope, send: Send, status: int, error: str, reason: str) -> None:
    """A JSON error answer; on a websocket handshake, the same as an HTTP denial response
    when the server offers one (uvicorn does), else a close before accepting (403)."""
    body = json.dumps({"error": error, "reason": reason}).encode()
    prefix = ""
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
            return
        prefix = "websocket."
    await send(
        {
            "type": f"{prefix}http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": f"{prefix}http.response.body", "body": body})


class InstanceMiddleware:
    """Find the instance from the Host header (or an app's `{slug}.{instance}` origin)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = value.decode("latin-1")
                break
        domain = normalize_domain(host)
        state = scope.setdefault("state", {})
        try:
            instance, app_slug = await self._resolve(domain)
        except StoreUnavailable as error:
            if scope["path"] in HOSTLESS_PATHS:
                instance, app_slug = None, None
            else:
                await _json_answer(scope, send, 503, error.error, error.reason)
                return
        if instance is None and scope["path"] not in HOSTLESS_PATHS:
            await _json_answer(
                scope, send, 404, "not_found", f"no instance is served at {domain or '(no host)'}"
            )
            return
        state["instance"] = instance
        state["app_slug"] = app_slug
        await self.app(scope, receive, send)

    async def _resolve(self, domain: str) -> tuple[object | None, str | None]:
        instances = self.services.instances
        instance = await instances.find(domain) if domain else None
        if instance is not None:
            return instance, None
        label, _, rest = domain.partition(".")
        if rest and label:
            parent = await instances.find(rest)
            if parent is not None:
                return parent, label
        default = self.services.config.default_instance
        if default:
            return await instances.find(default), None
        return None, None


_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _origin_host(origin: str) -> str | None:
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme not in ("http", "https"):
        return None
    return rest.split("/", 1)[0].lower()


class CrossSiteCookieGuard:
    """An unsafe request sent from another origin never rides on the owner's session.

    SameSite=Lax keeps the cookie off cross-*site* posts, but an app's own origin
    (`{slug}.{instance}`) is the same *site* as the instance. So for POST/PUT/PATCH/DELETE
    whose `Origin` is not the instance's own, or whose `Sec-Fetch-Site` says it came from
    elsewhere, the Cookie header is removed: the request is anonymous (tokens still work).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A browser opens a websocket to any origin with the cookies of the target
        # (cross-site websocket hijacking): a handshake is treated like an unsafe request.
        unsafe = scope["type"] == "websocket" or (
            scope["type"] == "http" and scope["method"] in _UNSAFE_METHODS
        )
        if unsafe:
            headers = dict(scope.get("headers", []))
            if b"cookie" in headers and self._foreign(headers):
                scope = dict(scope)
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        await self.app(scope, receive, send)

    @staticmethod
    def _foreign(headers: dict[bytes, bytes]) -> bool:
        fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if fetch_site in ("cross-site", "same-site"):
            return True
        origin = headers.get(b"origin")
        if origin is None:
            return False
        host = headers.get(b"host", b"").decode("latin-1").lower()
        return _origin_host(origin.decode("latin-1")) != host
