"""The hub of one process: one changes follower per database that has listeners.

Subscribers register per (instance, doctype); the first registration starts that database's
follower, the last one leaving stops it. Nothing here knows about websockets.

Each follower holds one store connection in a longpoll, so the hub should be given a
`CouchClient` of its own (`Services.build` does): however many databases are followed, the
request paths' connection pool is never drained by them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from roost.couch import CouchClient
from roost.instances import Instance
from roost.realtime.follower import ChangesFollower, Listener
from roost.vfs import VFS

__all__ = ["RealtimeHub", "RealtimeLimits", "TooManyFollowers"]


class TooManyFollowers(Exception):
    """This process already follows `RealtimeLimits.followers` databases."""


@dataclass(frozen=True)
class RealtimeLimits:
    queue_frames: int = 1000  # frames waiting for a slow client before it is closed
    subscriptions: int = 100  # per socket
    doctypes: int = 20  # distinct doctypes per socket (each may need a follower)
    followers: int = 200  # databases followed at once by this process (one connection each)
    poll_seconds: float = 25.0  # longpoll timeout of a changes request
    missing_db_seconds: float = 1.0  # how often a not-yet-created database is looked for
    ready_seconds: float = 10.0  # how long a SUBSCRIBE waits for its follower's position
    revalidate_seconds: float = 1.0  # how often a socket's credentials are checked again
    auth_seconds: float = 30.0  # a socket with no good AUTH by then is closed


class RealtimeHub:
    def __init__(self, couch: CouchClient, vfs: VFS, limits: RealtimeLimits) -> None:
        self.couch = couch
        self.vfs = vfs
        self.limits = limits
        self._followers: dict[str, ChangesFollower] = {}
        self._lock = asyncio.Lock()

    @property
    def followers(self) -> int:
        return len(self._followers)

    def listeners(self, instance: Instance, doctype: str) -> int:
        """How many subscribers this process has on that database (0: nobody follows it)."""
        follower = self._followers.get(instance.db(doctype))
        return 0 if follower is None else len(follower.listeners)

    def following(self, instance: Instance, doctype: str) -> bool:
        """Whether this process follows that database from a known point of its feed: a
        write made from now on reaches its subscribers. A client's socket may be open
        before that (the protocol has no acknowledgement of SUBSCRIBE)."""
        follower = self._followers.get(instance.db(doctype))
        return follower is not None and follower.ready.is_set()

    async def listen(
        self, key: object, instance: Instance, doctype: str, listener: Listener
    ) -> None:
        """Start delivering `doctype`'s changes of `instance` to `listener`; returns once the
        follower knows where the feed stands, so a write made after this call is seen."""
        db = instance.db(doctype)
        async with self._lock:
            follower = self._followers.get(db)
            if follower is None:
                if len(self._followers) >= self.limits.followers:
                    raise TooManyFollowers(
                        f"this server follows {self.limits.followers} databases already"
                    )
                follower = ChangesFollower(
                    self.couch,
                    self.vfs,
                    instance,
                    doctype,
                    poll_seconds=self.limits.poll_seconds,
                    missing_db_seconds=self.limits.missing_db_seconds,
                )
                self._followers[db] = follower
                follower.start()
            follower.listeners[key] = listener
        try:
            await asyncio.wait_for(follower.ready.wait(), self.limits.ready_seconds)
        except TimeoutError:
            # The store is down: the follower keeps trying and delivers once it is back.
            pass

    async def unlisten(self, key: object, instance: Instance, doctype: str) -> None:
        db = instance.db(doctype)
        async with self._lock:
            follower = self._followers.get(db)
            if follower is None:
                return
            follower.listeners.pop(key, None)
            if follower.listeners:
                return
            del self._followers[db]
        await follower.stop()

    async def aclose(self) -> None:
        async with self._lock:
            followers = list(self._followers.values())
            self._followers.clear()
        for follower in followers:
            await follower.stop()
