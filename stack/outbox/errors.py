"""Why the outbox refuses a decision, as domain errors (the edge maps them once)."""

from __future__ import annotations

from roost.errors import Conflict, NotFound

__all__ = [
    "AlreadyDecided",
    "ProposalChanged",
    "ProposalExpired",
    "ProposalNotFound",
    "ProposerRevoked",
]


class ProposalNotFound(NotFound):
    """No such proposal in this outbox."""


class AlreadyDecided(Conflict):
    """The proposal was approved, refused or expired already: nothing more happens."""

    def __init__(self, reason: str, state: str) -> None:
        super().__init__(reason)
        self.state = state


class ProposalExpired(AlreadyDecided):
    """The proposal's time ran out before the person approved it: it is never sent."""


class ProposalChanged(Conflict):
    """The proposal changed since the person saw it: they must look at it again."""


class ProposerRevoked(Conflict):
    """The proposing app was uninstalled or lost the grant: its proposal cannot be sent."""
