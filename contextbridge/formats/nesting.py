"""A bound on the nesting depth of a JSON document, checked chunk by chunk before it is parsed.

ijson names every value by its prefix (``item.item.item...``), so a document nested ``n`` deep
costs memory in ``n**2``: 100_000 brackets, a 200 kB input, would take tens of gigabytes. The
guard sees each chunk before the parser does and refuses the document once it may be nested
deeper than ``MAX_JSON_DEPTH``. It works at C speed on the chunk: escapes are dropped and strings
cut out at their quotes (their brackets do not count), everything but brackets is deleted, then
matched pairs are removed level by level; the number of levels removed bounds the depth reached
inside the chunk. The bound is conservative (it may exceed the true depth, never fall short), and
legitimate feeds are a handful of levels deep, far from the limit.

    >>> guard = DepthGuard(limit=3)
    >>> guard.feed(b'{"a": [[1]]')
    >>> guard.feed(b', "b": [[[2]]]}')
    Traceback (most recent call last):
    ...
    ValueError: nested deeper than 3 levels
"""

from __future__ import annotations

__all__ = ["MAX_JSON_DEPTH", "DepthGuard"]

MAX_JSON_DEPTH = 512

_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in _BRACKETS)


class DepthGuard:
    """Feed it the chunks of one document in order; ``feed`` raises ValueError past ``limit``."""

    __slots__ = ("depth", "escaped", "in_string", "limit")

    def __init__(self, *, limit: int = MAX_JSON_DEPTH) -> None:
        self.limit = limit
        self.depth = 0  # an upper bound of the depth at the end of the chunks seen so far
        self.in_string = False  # the last chunk ended inside a string
        self.escaped = False  # ... right after a backslash

    def feed(self, chunk: bytes) -> None:
        if self.escaped and chunk:
            chunk = chunk[1:]  # the byte a backslash at the end of the last chunk escaped
            self.escaped = False
        # Backslashes only occur in strings: drop escaped backslashes, then escaped quotes, so
        # that every quote left opens or closes a string.
        text = chunk.replace(b"\\\\", b"").replace(b'\\"', b"")
        if text.endswith(b"\\"):
            self.escaped = True
            text = text[:-1]
        parts = text.split(b'"')
        outside = parts[1::2] if self.in_string else parts[0::2]
        if len(parts) % 2 == 0:  # an odd number of quotes: the chunk ends on the other side
            self.in_string = not self.in_string
        text = b"".join(outside)
        brackets = text.translate(None, _NOT_BRACKETS)
        if not brackets:
            return
        levels = 0
        while True:
            before = len(brackets)
            for pair in (b"[]", b"{}"):
                reduced = brackets.replace(pair, b"")
                if len(reduced) != len(brackets):
                    levels += 1
                    brackets = reduced
            if len(brackets) == before:
                break
            if self.depth + levels > self.limit:
                raise ValueError(f"nested deeper than {self.limit} levels")
        # What is left is unmatched: closings of earlier openings, then openings still open.
        closes = sum(brackets.count(byte) for byte in (b"]", b"}"))
        opens = len(brackets) - closes
        if self.depth + levels + opens > self.limit:
            raise ValueError(f"nested deeper than {self.limit} levels")
        self.depth = max(self.depth - closes, 0) + opens
