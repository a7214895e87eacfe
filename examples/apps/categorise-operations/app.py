"""categorise-operations: new bank operations get a category, learnt from the person's own
corrections (the model is sdk/roost_categoriser.py).

Triggered by new ``io.cozy.bank.operations`` with a debounce: a statement of 10,000
operations gives one run (or a few), not 10,000. A run reads the changes feed from where the
last one stopped (``io.roost.bank.categoriser/progress``), retrains the local model from the
operations whose category the person chose (``manualCategoryId``), and writes the guesses
(``localCategoryId``/``localCategoryProba``, ``cozyCategoryId``/``cozyCategoryProba``,
``toCategorize: false``) on every operation still to categorise, a thousand per host call
(``update_many``). An operation is categorised once: a later change leaves its guesses, and
the person's own category is never touched.

The bookmark is saved after each page, and a run stops by itself after ``SOFT_SECONDS``
(well inside its 30 s budget, on a busy machine), saving it with ``"state": "more"``: its
own trigger watches for that, so the next run goes on from there at once.
"""

import json
import time

import roost_sdk as roost
import wit_world
from componentize_py_types import Err
from roost_categoriser import LocalModel, categorised_fields

OPERATIONS = "io.cozy.bank.operations"
PROGRESS = "io.roost.bank.categoriser"
PROGRESS_ID = "progress"
#: Changes read per host call (the host's page size).
PAGE = 1000
#: A run stops reading after this long and saves where it is (its budget is 30 s).
SOFT_SECONDS = 18.0


def _progress():
    doc = roost.get(PROGRESS, PROGRESS_ID)
    return doc if doc is not None else {"_id": PROGRESS_ID, "since": "0"}


def _save_progress(doc, since, state="working"):
    """The bookmark saved; returns the stored document (with its new ``_rev``)."""
    if doc.get("since") == since and doc.get("state") == state:
        return doc
    body = {**doc, "since": since, "state": state}
    saved = roost.update(PROGRESS, body) if "_rev" in doc else roost.create(PROGRESS, body)
    return {**body, "_id": saved["_id"], "_rev": saved["_rev"]}


def _model():
    return LocalModel(roost.find_all(OPERATIONS, {"manualCategoryId": {"$gt": ""}}, page=PAGE))


def _to_categorise(change):
    doc = change.get("doc")
    if change.get("deleted") or not isinstance(doc, dict):
        return None
    if doc.get("toCategorize") is False:
        return None  # categorised already (by a former run, or by its writer)
    return doc


def categorise(params):
    started = time.monotonic()
    progress = _progress()
    since = str(progress.get("since") or "0")
    model = None
    counts = {"categorised": 0, "conflicts": 0, "changes": 0, "more": False}
    while True:
        if time.monotonic() - started > SOFT_SECONDS:
            counts["more"] = True
            break
        feed = roost.changes_since(OPERATIONS, since)
        results = feed.get("results", [])
        counts["changes"] += len(results)
        docs = [doc for doc in map(_to_categorise, results) if doc is not None]
        if docs:
            model = model or _model()
            updates = [{**doc, **categorised_fields(doc, model)} for doc in docs]
            for row in roost.update_many(OPERATIONS, updates):
                if row.get("ok"):
                    counts["categorised"] += 1
                elif row.get("error") == "conflict":
                    # Changed meanwhile (the person, an importer): its change is in the feed
                    # after this page, and the next page or run categorises it.
                    counts["conflicts"] += 1
                else:
                    raise roost.RoostError(row["error"], f"{row.get('id')}: {row['message']}")
        last = str(feed.get("last_seq") or since)
        if last == since or not results:
            break
        since = last
        progress = _save_progress(progress, since)
    _save_progress(progress, since, "more" if counts["more"] else "done")
    roost.info(
        f"{counts['categorised']} operations categorised "
        f"({counts['changes']} changes read, {counts['conflicts']} changed meanwhile"
        + ("; stopped to stay in its budget, the next run goes on" if counts["more"] else "")
        + ")"
    )
    return counts


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            return json.dumps(categorise(json.loads(input or "{}")))
        except roost.RoostError as e:
            raise Err(json.dumps({"error": e.code, "message": e.message})) from None
