"""Realtime: cozy-stack's websocket protocol over the store's changes feeds.

`RealtimeHub` (one per process) runs one `ChangesFollower` per database with listeners;
each socket is a `RealtimeSession` that authenticates, subscribes, and receives only the
events `roost.permissions.decide` lets it read (`gate`). No Starlette here: the websocket
handler is `roost.web.realtime`.
"""

from roost.realtime.auth import RealtimeAuth
from roost.realtime.events import Event, event_from_change
from roost.realtime.gate import EventView, may_subscribe
from roost.realtime.hub import RealtimeHub, RealtimeLimits
from roost.realtime.protocol import CLOSE_POLICY, CLOSE_SLOW_CONSUMER, SUBPROTOCOL
from roost.realtime.session import Close, RealtimeSession

__all__ = [
    "CLOSE_POLICY",
    "CLOSE_SLOW_CONSUMER",
    "SUBPROTOCOL",
    "Close",
    "Event",
    "EventView",
    "RealtimeAuth",
    "RealtimeHub",
    "RealtimeLimits",
    "RealtimeSession",
    "event_from_change",
    "may_subscribe",
]
