"""Untrusted names (a CSV header, a YAML key) made safe to put in a one-line message."""

from __future__ import annotations


def printable(text: str, limit: int | None = 40) -> str:
    """``text`` cut to ``limit`` characters (None: whole), control and invisible ones escaped.

    A name copied from a file may hold a newline, a NUL or undecodable bytes; echoed raw it
    would split the message over lines or fail to print at all.
    """
    cut = text if limit is None or len(text) <= limit else text[:limit] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
