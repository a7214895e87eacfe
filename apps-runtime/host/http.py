"""``roost:app/http``: the only way out of the sandbox, and only to the manifest's egress."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from roost.apps.context import RunContext
from roost.apps.host.core import Call, HostImpl, json_object, need_service, request_body
from roost.apps.services import EgressDenied, FetchRequest, Invalid
from roost.permissions import PermissionDenied, egress_allows
from roost.permissions.egress import parse_url_origin

__all__ = ["FUNCTIONS"]

MAX_FETCH_BODY = 8 * 1024 * 1024
HOP_BY_HOP = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


def _fetch(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    (request_text,) = args
    if run.grant.is_expired(datetime.now(UTC)):
        # Egress has no doctype to ask `decide` about; its expiry rule is the same.
        raise PermissionDenied("GET", "egress", "this permission has expired")
    req = json_object(request_text, "the request")
    url = req.get("url")
    method = req.get("method", "GET")
    if not isinstance(url, str) or not url:
        raise Invalid("the request needs a url")
    if not isinstance(method, str) or not method.isalpha():
        raise Invalid("method must be a word like GET or POST")
    method = method.upper()
    call.verb = method
    origin = parse_url_origin(url)
    call.egress_host = origin.host if origin is not None else None
    egress = tuple(run.grant.egress)
    if not egress:
        raise EgressDenied("this app has no egress: it cannot reach the network")
    if not egress_allows(egress, url):
        raise EgressDenied(f"{url} is not in the app's egress list")
    headers_raw = req.get("headers", {})
    if not isinstance(headers_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers_raw.items()
    ):
        raise Invalid("headers must be an object of strings")
    headers = tuple((k, v) for k, v in headers_raw.items() if k.lower() not in HOP_BY_HOP)
    body = request_body(req)
    if len(body) > MAX_FETCH_BODY:
        raise Invalid(f"request body larger than {MAX_FETCH_BODY} bytes")
    fetcher = need_service(run.services.http, "http")
    resp = run.bridge(fetcher.fetch(FetchRequest(method, url, headers, body), egress))
    call.count = 1
    call.bytes = len(resp.body) + resp.bytes_out
    if resp.hosts:
        call.egress_host = ",".join(dict.fromkeys(resp.hosts))
    out: dict[str, Any] = {
        "status": resp.status,
        "headers": {k.lower(): v for k, v in resp.headers},
        "url": resp.url,
    }
    try:
        out["body"] = resp.body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(resp.body).decode("ascii")
    return out


FUNCTIONS: list[tuple[str, str, HostImpl]] = [("fetch", "GET", _fetch)]
