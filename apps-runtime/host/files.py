"""``roost:app/files``: the person's files (``io.cozy.files``), limited to the app's grant."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from roost.apps.context import RunContext
from roost.apps.host.core import (
    ANSWER_BYTES,
    FILES_DOCTYPE,
    Call,
    HostImpl,
    enforce,
    json_object,
    need_service,
    require_some_rule,
)
from roost.apps.services import Invalid, NotFound
from roost.permissions import FileTarget, PermissionDenied

__all__ = ["FUNCTIONS"]


def _readable(run: RunContext, path: str) -> FileTarget:
    """The target at ``path`` if the app may read it; missing and hidden answer alike."""
    require_some_rule(run, "GET", FILES_DOCTYPE, _PROBE, surface="stack")
    svc = need_service(run.services.files, "files")
    target: FileTarget = run.bridge(svc.target(path))
    enforce(run, "GET", FILES_DOCTYPE, target, surface="stack")
    return target


# Only to ask "does the grant hold any files rule at all?" before any lookup.
_PROBE = FileTarget(id="", dir_id=None, type="file", name="")


def _list(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    (path,) = args
    target = _readable(run, path)
    svc = need_service(run.services.files, "files")
    entries = run.bridge(svc.list_dir(path))
    out = {"entries": entries}
    call.count, call.bytes, call.ids = len(entries), ANSWER_BYTES, (target.id,)
    return out


def _read(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    (path,) = args
    target = _readable(run, path)
    if target.is_dir:
        raise Invalid(f"{path} is a directory")
    svc = need_service(run.services.files, "files")
    doc, data = run.bridge(svc.read(path, max_bytes=run.max_file_bytes))
    call.count, call.bytes, call.ids = 1, len(data), (target.id,)
    return {
        "path": path,
        "size": len(data),
        "mime": doc.get("mime", ""),
        "base64": base64.b64encode(data).decode("ascii"),
    }


def _write(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    path, content_text = args
    try:
        require_some_rule(run, "POST", FILES_DOCTYPE, _PROBE, surface="stack")
    except PermissionDenied:
        require_some_rule(run, "PUT", FILES_DOCTYPE, _PROBE, surface="stack")
    svc = need_service(run.services.files, "files")
    content = json_object(content_text, "the content")
    if "text" in content and isinstance(content["text"], str):
        data = content["text"].encode("utf-8")
    elif "base64" in content and isinstance(content["base64"], str):
        try:
            data = base64.b64decode(content["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("base64 content is not valid base64") from None
    else:
        raise Invalid('content must be {"text": ...} or {"base64": ...}')
    mime = content.get("mime")
    if mime is not None and not isinstance(mime, str):
        raise Invalid("mime must be a string")
    if len(data) > run.max_file_bytes:
        raise Invalid(f"file larger than {run.max_file_bytes} bytes")
    try:
        target: FileTarget = run.bridge(svc.target(path))
        verb, seen = "PUT", target
    except NotFound:
        parent_path, _, name = path.rstrip("/").rpartition("/")
        parent: FileTarget = run.bridge(svc.target(parent_path or "/"))
        target = FileTarget(
            id="",
            dir_id=parent.id,
            type="file",
            name=name,
            mime=mime or "",
            ancestors=(parent, *parent.ancestors),
        )
        verb, seen = "POST", parent
    call.verb = verb
    # A new file is hidden when its folder is; an existing one when it is itself.
    enforce(run, verb, FILES_DOCTYPE, target, surface="stack", visible=seen)
    doc = run.bridge(svc.write(path, data, mime=mime, app=run.app))
    call.count, call.bytes, call.ids = 1, len(data), (str(doc.get("_id", "")),)
    return doc


FUNCTIONS: list[tuple[str, str, HostImpl]] = [
    ("list", "GET", _list),
    ("read", "GET", _read),
    ("write", "POST", _write),
]
