"""A thin, typed-by-convention helper over the roost:app bindings for Python guests.

Works for every world: the ``outbox`` helpers need an app built for ``roost:app@0.2.0`` or
later (its manifest says ``"world": "roost:app@0.2.0"``), the bulk writes (``create_many``,
``update_many``) one built for ``roost:app@0.3.0``; in an older build they raise
``RoostError("unavailable", ...)``.

componentize-py generates ``wit_world.imports.*``; a host ``err`` arrives as a raised
``componentize_py_types.Err`` whose value is a JSON string ``{"error", "message"}``. This module
turns it into :class:`RoostError` and does the JSON encoding both ways.
"""

import json

from componentize_py_types import Err
from wit_world.imports import data, files, http, log, notify

try:  # world 0.2.0 only. Imported here, at build time: a guest has no files to import from later.
    from wit_world.imports import outbox as _outbox_bindings
except ImportError:  # a 0.1.0 build
    _outbox_bindings = None


class RoostError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _call(func, *args):
    try:
        return json.loads(func(*args))
    except Err as e:
        try:
            payload = json.loads(e.value)
            raise RoostError(payload.get("error", "error"), payload.get("message", "")) from None
        except (ValueError, AttributeError):
            raise RoostError("error", str(e.value)) from None


def get(doctype, doc_id):
    """The document, or None when it does not exist (or is outside the grant)."""
    try:
        return _call(data.get, doctype, doc_id)
    except RoostError as e:
        if e.code == "not_found":
            return None
        raise


def find(doctype, selector=None, limit=100, skip=0, sort=None, fields=None):
    query = {"selector": selector or {}, "limit": limit, "skip": skip}
    if sort is not None:
        query["sort"] = sort
    if fields is not None:
        query["fields"] = fields
    return _call(data.find, doctype, json.dumps(query))["docs"]


def find_all(doctype, selector=None, page=500):
    out, skip = [], 0
    while True:
        docs = find(doctype, selector, limit=page, skip=skip)
        out.extend(docs)
        if len(docs) < page:
            return out
        skip += page


def create(doctype, doc):
    return _call(data.create, doctype, json.dumps(doc))


def update(doctype, doc):
    return _call(data.update, doctype, json.dumps(doc))


def delete(doctype, doc):
    return _call(data.delete, doctype, json.dumps(doc))


def changes_since(doctype, since="0"):
    """Changes after ``since``: ``{"results": [{"id", "deleted"?, "doc"?}], "last_seq"}``."""
    return _call(data.changes_since, doctype, since)


#: Whether this build has the bulk writes (world roost:app@0.3.0 or later).
BULK = hasattr(data, "create_many")
#: What one ``create-many``/``update-many`` call may carry (the host's caps, docs/apps.md).
BULK_MAX_DOCS = 1000
BULK_MAX_BYTES = 4 * 1024 * 1024


def _bulk(function, doctype, docs):
    """Write ``docs`` in as few calls as the caps allow; one result row per document."""
    func = getattr(data, function, None)
    if func is None:
        raise RoostError("unavailable", "bulk writes need world roost:app@0.3.0")
    rows, chunk, size = [], [], 2
    for doc in docs:
        text = json.dumps(doc)  # ASCII: its length is its size in bytes
        if chunk and (len(chunk) >= BULK_MAX_DOCS or size + len(text) + 1 > BULK_MAX_BYTES):
            rows.extend(_call(func, doctype, "[" + ",".join(chunk) + "]"))
            chunk, size = [], 2
        chunk.append(text)
        size += len(text) + 1
    if chunk:
        rows.extend(_call(func, doctype, "[" + ",".join(chunk) + "]"))
    return rows


def get_many(doctype, ids):
    """The stored documents among ``ids``, by id (absent ones, and those outside the grant,
    are left out): a thousand per host call."""
    func = getattr(data, "get_many", None)
    if func is None:
        raise RoostError("unavailable", "bulk reads need world roost:app@0.3.0")
    found = {}
    for start in range(0, len(ids), BULK_MAX_DOCS):
        for row in _call(func, doctype, json.dumps(ids[start : start + BULK_MAX_DOCS])):
            if "error" not in row:
                found[row["_id"]] = row
    return found


def create_many(doctype, docs):
    """Create many documents, a thousand per host call. Returns one row per document, in
    order: ``{"ok": True, "id", "rev"}`` or ``{"id", "error", "message"}`` (each document
    succeeds or fails on its own)."""
    return _bulk("create_many", doctype, docs)


def update_many(doctype, docs):
    """Replace many documents (each with ``_id`` and ``_rev``); rows as for create_many."""
    return _bulk("update_many", doctype, docs)


def upsert(doctype, doc):
    """Create ``doc`` (which has a deterministic ``_id``) or update it if it changed.

    Returns ("created" | "updated" | "unchanged", stored document).
    """
    current = get(doctype, doc["_id"])
    if current is None:
        return "created", create(doctype, doc)
    merged = dict(current)
    merged.update(doc)
    if all(current.get(k) == v for k, v in doc.items()):
        return "unchanged", current
    merged["_rev"] = current["_rev"]
    return "updated", update(doctype, merged)


def fetch(method, url, headers=None, body=None, json_body=None):
    """An HTTP request through the host (only to the manifest's egress hosts)."""
    req = {"method": method, "url": url, "headers": dict(headers or {})}
    if json_body is not None:
        req["body"] = json.dumps(json_body)
        req["headers"].setdefault("Content-Type", "application/json")
    elif body is not None:
        req["body"] = body
    return _call(http.fetch, json.dumps(req))


def fetch_json(method, url, headers=None, json_body=None):
    resp = fetch(method, url, headers=headers, json_body=json_body)
    if resp["status"] >= 400:
        raise RoostError(f"http_{resp['status']}", resp.get("body", "")[:200])
    return json.loads(resp.get("body") or "null")


def list_dir(path):
    return _call(files.list, path)["entries"]


def read_file(path):
    return _call(files.read, path)


def write_text(path, text, mime="text/plain"):
    return _call(files.write, path, json.dumps({"text": text, "mime": mime}))


def info(message):
    log.log("info", message)


def warn(message):
    log.log("warn", message)


def notify_person(title, message):
    return _call(notify.notify, title, message)


def _outbox():
    if _outbox_bindings is None:
        raise RoostError("unavailable", "the outbox needs world roost:app@0.2.0")
    return _outbox_bindings


def propose(url, summary, method="POST", json_body=None, body=None, headers=None, **extra):
    """Propose a request to the person's outbox; Roost sends it only if they approve.

    ``extra`` may hold ``reference`` (the app's own key) and ``expires_in_seconds``.
    Returns the proposal ``{"id", "state", "expires_at", ...}``.
    """
    req = {"url": url, "method": method, "summary": summary, "headers": dict(headers or {})}
    if json_body is not None:
        req["body"] = json.dumps(json_body, ensure_ascii=False)
        req["headers"].setdefault("Content-Type", "application/json")
    elif body is not None:
        req["body"] = body
    req.update(extra)
    return _call(_outbox().propose, json.dumps(req))


def proposal(proposal_id):
    """One of this app's proposals (state, and the destination's answer once sent)."""
    return _call(_outbox().get, proposal_id)


def proposals(state=None, reference=None, limit=50):
    query = {"limit": limit}
    if state is not None:
        query["state"] = state
    if reference is not None:
        query["reference"] = reference
    return _call(_outbox().list, json.dumps(query))["proposals"]


# -- connectors: reporting errors -------------------------------------------------------
# The codes a connector fails with (docs/apps.md, "Reporting errors from a connector"). The
# stack turns each into plain words in Collect ("wrong password", "the site did not
# answer"...). A code may carry a detail after a dot: "LOGIN_FAILED.TOO_MANY_ATTEMPTS".

LOGIN_FAILED = "LOGIN_FAILED"
USER_ACTION_NEEDED = "USER_ACTION_NEEDED"
CHALLENGE_ASKED = "CHALLENGE_ASKED"
VENDOR_DOWN = "VENDOR_DOWN"
SITE_CHANGED = "SITE_CHANGED"
UNKNOWN_ERROR = "UNKNOWN_ERROR"

# Host errors a connector did not catch, and what they mean for the person. A refusal
# (``egress_denied``, ``forbidden``) and ``budget_exhausted`` are passed on as they are: the
# stack knows them.
_HOST_CODES = {
    "timeout": VENDOR_DOWN,
    "fetch_failed": VENDOR_DOWN,
    "egress_denied": "egress_denied",
    "forbidden": "forbidden",
    "budget_exhausted": "budget_exhausted",
}


class ConnectorError(RoostError):
    """A failure the person can be told about; raise it with :func:`fail`."""


def fail(code, message=""):
    """Stop the connector with one of the codes above (and a message for the log)."""
    raise ConnectorError(code, message)


def check_login(response, message="the site refused the login or password"):
    """After a login request: 401/403 means wrong credentials, 5xx that the site is down."""
    status = response["status"]
    if status in (401, 403):
        fail(LOGIN_FAILED, message)
    if status >= 500:
        fail(VENDOR_DOWN, f"the site answered {status}")
    if status >= 400:
        fail(SITE_CHANGED, f"the login page answered {status}")
    return response


def error_payload(error):
    """The JSON ``err`` a connector returns for ``error`` (any exception)."""
    if isinstance(error, ConnectorError):
        code = error.code
    elif isinstance(error, RoostError):
        code = _HOST_CODES.get(error.code)
        if code is None and error.code.startswith("http_"):
            code = VENDOR_DOWN if error.code[5:6] == "5" else SITE_CHANGED
        code = code or UNKNOWN_ERROR
    elif isinstance(error, (KeyError, ValueError, TypeError, IndexError)):
        # The site's answer no longer has the shape the connector reads.
        code = SITE_CHANGED
    else:
        code = UNKNOWN_ERROR
    message = error.message if isinstance(error, RoostError) else f"{type(error).__name__}: {error}"
    return json.dumps({"error": code, "message": str(message)[:500]})


def run_connector(main, input_text):
    """Run ``main(params)`` for a connector's ``run`` export: its result as JSON, or an
    ``Err`` with the error vocabulary's code, whatever the failure."""
    try:
        return json.dumps(main(json.loads(input_text or "{}")))
    except Exception as error:  # every failure becomes a code the person can be told about
        raise Err(error_payload(error)) from None
