"""Reading a stream whole, but never more than a limit: what comes from outside (a request
body, a registry's answer) is refused as soon as it is known to be too large, without
holding more than the limit in memory."""

from __future__ import annotations

from collections.abc import AsyncIterable

__all__ = ["read_at_most"]


async def read_at_most(chunks: AsyncIterable[bytes], limit: int) -> bytes | None:
    """All of `chunks` joined, or None as soon as they pass `limit` bytes (the rest is not
    read)."""
    kept: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        kept.append(chunk)
    return b"".join(kept)
