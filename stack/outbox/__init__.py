"""The person's outbox: outbound requests apps propose and only the person's approval sends.

- :mod:`roost.outbox.proposals` - the proposal document, its states, what the app reads back.
- :mod:`roost.outbox.readable` - a body in words a person reads (fields, not braces).
- :mod:`roost.outbox.service` - propose, approve (one conditional transition, then one
  send from the host), refuse, expire.
- :mod:`roost.outbox.errors` - why a decision is refused.
"""

from roost.outbox.errors import (
    AlreadyDecided,
    ProposalChanged,
    ProposalExpired,
    ProposalNotFound,
    ProposerRevoked,
)
from roost.outbox.proposals import OUTBOX_DOCTYPE, STATES, app_view, body_bytes, effective_state
from roost.outbox.readable import ReadableBody, readable_body
from roost.outbox.service import Outbox

__all__ = [
    "OUTBOX_DOCTYPE",
    "STATES",
    "AlreadyDecided",
    "Outbox",
    "ProposalChanged",
    "ProposalExpired",
    "ProposalNotFound",
    "ProposerRevoked",
    "ReadableBody",
    "app_view",
    "body_bytes",
    "effective_state",
    "readable_body",
]
