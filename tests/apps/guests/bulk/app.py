"""Test guest built for world roost:app@0.3.0: the bulk writes, called as the input says.

Input JSON: {"call": "get-many" | "create-many" | "update-many", "doctype": "...",
"docs": [...] or "raw": "<the argument as is>", "pad": N}: with ``pad``, each document gets
a ``note`` of N characters (a run's input is capped well below a bulk call's bytes).
Output: the host's answer, ok or err.
Used only by tests/apps.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import data

_CALLS = {
    "get-many": data.get_many,
    "create-many": data.create_many,
    "update-many": data.update_many,
}


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        req = json.loads(input)
        func = _CALLS[req["call"]]
        docs = req.get("docs", [])
        if req.get("pad"):
            docs = [{**doc, "note": "x" * req["pad"]} for doc in docs]
        arg = req["raw"] if "raw" in req else json.dumps(docs)
        try:
            return json.dumps({"ok": json.loads(func(req["doctype"], arg))})
        except Err as e:
            return json.dumps({"err": json.loads(e.value)})
