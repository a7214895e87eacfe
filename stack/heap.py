"""How a long-running `roost serve` keeps Python's cycle collector cheap.

Python's full collection walks every object the collector tracks. After start-up that is
about 70,000 objects (modules, classes, functions, the app) that live as long as the
process, and a full collection under load took 43 ms: a pause landing on whatever request
allocated at that moment (measured on a first PROPFIND of 2,000 entries). `gc.freeze`
moves them out of the collector's walks for good; a full collection then took 6.5 ms.
"""

from __future__ import annotations

import gc


def settle_after_start_up() -> int:
    """Collect once, then exempt every object that survived from later collections.

    Call it once the process has built what it keeps for its whole life (the app and its
    services), before serving. Returns how many objects were set aside.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
