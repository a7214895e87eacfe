"""Builds the WebDAV server over the stack's services (called by the composition root)."""

from __future__ import annotations

from roost.instances import Instance
from roost.services import Services
from roost.webdav.server import DavServer

from .authenticator import DavAuthenticator
from .locks import CouchLockStore
from .tree import VfsTree


def dav_server(services: Services) -> DavServer[Instance]:
    return DavServer(
        VfsTree(services.vfs),
        CouchLockStore(services.couch),
        DavAuthenticator(services.authenticator),
    )
