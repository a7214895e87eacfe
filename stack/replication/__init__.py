"""CouchDB replication for devices: feeds, filtering for restricted tokens, revisions,
replicated writes and per-credential checkpoints. No HTTP here (see `roost.web.replication`).
"""

from roost.replication.query import ChangesQuery
from roost.replication.service import ReplicationService
from roost.replication.writes import BulkDocs

__all__ = ["BulkDocs", "ChangesQuery", "ReplicationService"]
