"""What every file importer shares: the watched folder, parse-first-then-write, stable ids,
the per-file ledger and the run's outcome.

An importer is a Python guest triggered by ``@event io.cozy.files:CREATED,UPDATED``. The stack
passes the event in the input (``{"event": {"doctype", "verb", "doc"}}``); the importer reads
the file only when it sits in its watched folder (the account field ``folder``, else the app's
default). Run by hand (no event), it imports every file of the folder not yet imported at its
current content (``md5sum``).

For each file: the whole file is parsed into documents first; a malformed file raises
:class:`FileRejected` and nothing of it is written. Then the documents are saved by id (ids
are derived from the file's own transaction ids or a stable hash, so a re-import changes
nothing), and the outcome is recorded in the ledger (``io.roost.imports``, one document per
importer and file, ``_id`` = ``<slug>:<file id>``) - that is where the Drive finds the error
of a file. A run that rejected a file ends with the ``err`` ``{"error": "invalid_file",
"message": "<file>: <why>"}``; otherwise its output counts what it wrote per doctype.
"""

import base64
import hashlib
import importlib
import json
import time
from datetime import UTC, datetime

import roost_sdk as roost

# The guest has no filesystem when it runs: only modules imported while componentize-py
# built it are there. Codecs and `_strptime` are otherwise imported lazily, on first use.
for _module in (
    "_strptime",
    "encodings.cp1252",
    "encodings.iso8859_1",
    "encodings.iso8859_15",
    "encodings.latin_1",
    "encodings.utf_16",
    "encodings.utf_8_sig",
):
    importlib.import_module(_module)

LEDGER = "io.roost.imports"
FILES = "io.cozy.files"
#: Fields an import sets only when it creates a document: the person may edit them after.
CREATE_ONLY = ("label", "metadata", "toCategorize")


class FileRejected(Exception):
    """The file cannot be imported; the message says why in plain words."""


def stable_id(*parts):
    """A document id from the parts that identify a record (same parts, same id)."""
    text = json.dumps([str(p) for p in parts], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def now_iso():
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def occurrence_ids(records, key, make_id):
    """Give each record an id from ``key(record)`` plus its occurrence index among records
    sharing that key, so two identical lines of one statement stay two documents."""
    seen = {}
    for record in records:
        k = key(record)
        index = seen.get(k, 0)
        seen[k] = index + 1
        record["_id"] = make_id(k, index)


def decode_text(data, declared=None):
    """Bytes to text: the declared charset, else UTF-8 (BOM dropped), else Windows-1252."""
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def watched_folder(params, default):
    credentials = params.get("credentials") or {}
    folder = credentials.get("folder") or params.get("folder") or default
    folder = "/" + str(folder).strip().strip("/")
    return folder


def _entries(folder):
    try:
        return [e for e in roost.list_dir(folder) if e.get("type") == "file"]
    except roost.RoostError as e:
        if e.code == "not_found":
            return []
        raise


def _same(current, doc):
    return all(current.get(k) == v for k, v in doc.items() if k not in CREATE_ONLY)


def stored(doctype, ids, page=1000):
    """The stored documents among ``ids``, by id: one call per thousand (world 0.3.0), or
    one query per page, instead of one read per document (a statement has thousands)."""
    if roost.BULK:
        return roost.get_many(doctype, ids)
    found = {}
    for start in range(0, len(ids), page):
        chunk = ids[start : start + page]
        try:
            docs = roost.find(doctype, {"_id": {"$in": chunk}}, limit=len(chunk))
        except roost.RoostError as e:
            if e.code == "not_found":  # the doctype has no database yet
                return found
            raise
        found.update((d["_id"], d) for d in docs)
    return found


def save(doctype, doc, counts, keep=None, current=None):
    """Create ``doc`` or update ``current`` (the stored one, if any); ``keep(current, doc)``
    may first drop the fields of ``doc`` that must not replace the stored ones."""
    if current is None:
        try:
            roost.create(doctype, doc)
            counts["created"] += 1
            return
        except roost.RoostError as e:
            if e.code != "conflict":
                raise
            current = roost.get(doctype, doc["_id"])  # a concurrent run created it
            if current is None:
                raise
    if keep is not None:
        keep(current, doc)
    if _same(current, doc):
        counts["unchanged"] += 1
        return
    roost.update(doctype, _merged(current, doc))
    counts["updated"] += 1


def _merged(current, doc):
    merged = dict(current)
    merged.update({k: v for k, v in doc.items() if k not in CREATE_ONLY or k not in current})
    return merged


def _failed(rows, what):
    """The first row that is an error, raised (a write the run cannot leave unsaid)."""
    for row in rows:
        if "error" in row:
            raise roost.RoostError(row["error"], f"{what} {row.get('id', '')}: {row['message']}")


def save_all(doctype, docs, counts, keep=None, existing=None):
    """Save a statement's documents of one doctype: the new ones with ``create_many``, the
    changed ones with ``update_many``, a thousand per host call (world 0.3.0); one call per
    document in an older build."""
    if not roost.BULK:
        for doc in docs:
            save(doctype, doc, counts, keep, (existing or {}).get(doc["_id"]))
        return
    new, changed = [], []
    for doc in docs:
        current = (existing or {}).get(doc["_id"])
        if current is None:
            new.append(doc)
            continue
        if keep is not None:
            keep(current, doc)
        if _same(current, doc):
            counts["unchanged"] += 1
        else:
            changed.append(_merged(current, doc))
    raced, failed = [], []
    for doc, row in zip(new, roost.create_many(doctype, new) if new else [], strict=True):
        if row.get("error") == "conflict":
            raced.append(doc)  # a concurrent run created it: compared below, one by one
        elif "error" in row:
            failed.append(row)
        else:
            counts["created"] += 1
    _failed(failed, "created")
    rows = roost.update_many(doctype, changed) if changed else []
    _failed(rows, "updated")
    counts["updated"] += len(rows)
    for doc in raced:
        save(doctype, doc, counts, keep, roost.get(doctype, doc["_id"]))


def _record(slug, entry, folder, outcome):
    doc = {
        "_id": f"{slug}:{entry['_id']}",
        "importer": slug,
        "file": {"_id": entry["_id"], "name": entry.get("name", ""), "dir": folder},
        "md5sum": entry.get("md5sum", ""),
        **outcome,
        "at": now_iso(),
    }
    current = roost.get(LEDGER, doc["_id"])
    if current is None:
        try:
            roost.create(LEDGER, doc)
            return
        except roost.RoostError as e:
            if e.code != "conflict":
                raise
            current = roost.get(LEDGER, doc["_id"])
    doc["_rev"] = current["_rev"]
    roost.update(LEDGER, doc)


def run_importer(params, *, slug, default_folder, parse, order, keep=None):
    """Import the files of the watched folder the run is about.

    ``parse(name, data)`` returns ``(format, {doctype: [doc, ...]})`` or raises FileRejected;
    ``order`` lists the doctypes in the order they are written (accounts before operations);
    ``keep`` maps a doctype to a ``keep(current, doc)`` run before an update (e.g. so an older
    statement does not move a balance back).
    """
    folder = watched_folder(params, default_folder)
    event = params.get("event") or {}
    entries = _entries(folder)
    if event.get("doctype") == FILES:
        changed = (event.get("doc") or {}).get("_id")
        entries = [e for e in entries if e.get("_id") == changed]
        if not entries:
            return {"folder": folder, "files": [], "totals": {}}
    else:
        entries = [e for e in entries if not _already_seen(slug, e)]
    files, errors, totals = [], [], {}
    for entry in entries:
        name = entry.get("name", "")
        started = time.monotonic()
        try:
            content = roost.read_file(f"{folder}/{name}")
            data = base64.b64decode(content["base64"])
            fmt, batch = parse(name, data)
        except FileRejected as e:
            message = str(e)
            errors.append({"file": name, "error": message})
            roost.warn(f"{name}: not imported: {message}")
            _record(slug, entry, folder, {"state": "errored", "error": message})
            continue
        parsed = time.monotonic()
        counts = {}
        for doctype in order:
            c = counts.setdefault(doctype, {"created": 0, "updated": 0, "unchanged": 0})
            docs = batch.get(doctype, [])
            existing = stored(doctype, [d["_id"] for d in docs])
            save_all(doctype, docs, c, (keep or {}).get(doctype), existing)
            t = totals.setdefault(doctype, {"created": 0, "updated": 0, "unchanged": 0})
            for k in t:
                t[k] += c[k]
        files.append({"file": name, "format": fmt, "counts": counts})
        roost.info(
            f"{name}: {fmt}: "
            + _summary(counts)
            + f" (read and parsed in {parsed - started:.1f} s, "
            f"written in {time.monotonic() - parsed:.1f} s)"
        )
        _record(slug, entry, folder, {"state": "imported", "format": fmt, "counts": counts})
    if errors:
        message = "; ".join(f"{e['file']}: {e['error']}" for e in errors)
        raise FileRejected(message)
    return {"folder": folder, "files": files, "totals": totals}


def _already_seen(slug, entry):
    ledger = roost.get(LEDGER, f"{slug}:{entry['_id']}")
    return ledger is not None and ledger.get("md5sum") == entry.get("md5sum")


def _summary(counts):
    return ", ".join(
        f"{doctype}: {c['created']} new, {c['updated']} updated, {c['unchanged']} unchanged"
        for doctype, c in counts.items()
    )


def entry_point(run):
    """The ``run`` export's body: JSON in, JSON out, plain errors as ``err``."""
    from componentize_py_types import Err

    def wrapped(input_text):
        try:
            return json.dumps(run(json.loads(input_text or "{}")))
        except FileRejected as e:
            raise Err(json.dumps({"error": "invalid_file", "message": str(e)})) from None
        except roost.RoostError as e:
            raise Err(json.dumps({"error": e.code, "message": e.message})) from None

    return wrapped
