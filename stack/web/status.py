"""`/status`: is CouchDB reachable (and how fast), is the data directory writable."""

from __future__ import annotations

import os
import tempfile
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from roost import __version__
from roost.errors import StoreUnavailable
from roost.web.context import services_of


def _data_dir_writable(path: os.PathLike[str]) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".status-"):
            return True
    except OSError:
        return False


async def status(request: Request) -> Response:
    services = services_of(request)
    started = time.perf_counter()
    couch: dict[str, object]
    try:
        info = await services.couch.server_info()
        couch = {
            "ok": True,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "server": info.get("vendor", {}).get("name") or info.get("couchdb"),
            "version": info.get("version"),
        }
    except StoreUnavailable as error:
        couch = {"ok": False, "reason": error.reason}
    writable = _data_dir_writable(services.config.data_dir)
    healthy = bool(couch["ok"]) and writable
    return JSONResponse(
        {
            "status": "ok" if healthy else "degraded",
            "version": __version__,
            "couchdb": couch,
            "data_dir": {"path": str(services.config.data_dir), "writable": writable},
        },
        status_code=200 if healthy else 503,
    )


async def metrics(request: Request) -> Response:
    """Prometheus text format. Like /status, it answers on any host name: restrict it at
    the reverse proxy if the box faces the Internet."""
    services = services_of(request)
    return PlainTextResponse(
        services.metrics.render({"roost_store_restarts": float(services.store_restarts())}),
        media_type="text/plain; version=0.0.4",
    )


ROUTES = [
    Route("/status", status, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
