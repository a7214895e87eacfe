"""The stack's side of WebDAV: the ports of `roost.webdav.ports` implemented over the VFS,
CouchDB and the principals, and `dav_server`, which builds the server from them."""

from roost.dav.authenticator import DavAuthenticator
from roost.dav.locks import CouchLockStore
from roost.dav.tree import VfsTree
from roost.dav.wiring import dav_server

__all__ = ["CouchLockStore", "DavAuthenticator", "VfsTree", "dav_server"]
