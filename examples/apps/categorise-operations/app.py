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
"""

import json

import roost_sdk as roost
import wit_world
from componentize_py_types import Err
from roost_categoriser import LocalModel, categorised_fields

OPERATIONS = "io.cozy.bank.operations"
PROGRESS = "io.roost.bank.categoriser"
PROGRESS_ID = "progress"
#: Changes read per host call (the host's page size).
PAGE = 1000


def _progress():
    doc = roost.get(PROGRESS, PROGRESS_ID)
    return doc if doc is not None else {"_id": PROGRESS_ID, "since": "0"}


def _save_progress(doc, since):
    if doc.get("since") == since:
        return
    body = {**doc, "since": since}
    if "_rev" in doc:
        roost.update(PROGRESS, body)
    else:
        roost.create(PROGRESS, body)


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
    progress = _progress()
    since = str(progress.get("since") or "0")
    model = None
    counts = {"categorised": 0, "conflicts": 0, "changes": 0}
    while True:
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
    _save_progress(progress, since)
    roost.info(
        f"{counts['categorised']} operations categorised "
        f"({counts['changes']} changes read, {counts['conflicts']} changed meanwhile)"
    )
    return counts


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            return json.dumps(categorise(json.loads(input or "{}")))
        except roost.RoostError as e:
            raise Err(json.dumps({"error": e.code, "message": e.message})) from None
