"""WebDAV (RFC 4918, class 1 and 2) over the VFS, served at /dav/files/."""
