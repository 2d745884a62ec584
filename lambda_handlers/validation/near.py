"""Near-duplicates: records equal once case, whitespace and punctuation are ignored.

A record's key is its line as written, lowercased (ASCII letters), with every ASCII
character that is not a letter or a digit removed (spaces, tabs, punctuation, the JSON
syntax itself); an escaped newline, tab or carriage return inside a string counts as the
whitespace it stands for. Two records with the same fields in the same order and texts
that differ only in case, whitespace and punctuation get the same key.

Normalizing every byte costs about as much as the engine's whole fast path (some 2 ms a MB
in CPython, whichever way it is done: ``bytes.translate``, numpy, regular expressions), so
the check is asked for (``validate_dataset(near_duplicates=True)``, which the command line
does) rather than paid by every caller. A block is normalized in slices of
``CHUNK_BYTES``, so the copies stay small beside the block itself.
"""

from __future__ import annotations

import string

import numpy as np

CHUNK_BYTES = 1024 * 1024
_LOWER = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
_DROP = bytes(c for c in range(128) if not chr(c).isalnum() and c != ord("\n"))
_ESCAPED_SPACE = (b"\\n", b"\\t", b"\\r")


def normalized(data: bytes) -> bytes:
    """``data`` lowercased (ASCII), without ASCII whitespace or punctuation; newlines kept."""
    if b"\\" in data:
        for escape in _ESCAPED_SPACE:
            data = data.replace(escape, b" ")
    return data.translate(_LOWER, _DROP)  # one pass: case folded and punctuation dropped


def line_key(line: bytes) -> int:
    """The near-duplicate key of one line."""
    return hash(normalized(line))


def line_keys(block: memoryview, lengths: np.ndarray) -> np.ndarray:
    """The near-duplicate key of each line of ``block``, whose lines have ``lengths`` (no
    newline counted); the same keys as ``line_key`` line by line."""
    ends = np.cumsum(lengths + 1)
    keys: list[np.ndarray] = []
    line = start = 0
    while line < len(lengths):
        stop = max(line + 1, int(np.searchsorted(ends, start + CHUNK_BYTES, side="right")))
        end = int(ends[stop - 1])
        pieces = normalized(bytes(block[start:end])).split(b"\n")[: stop - line]
        keys.append(np.fromiter(map(hash, pieces), np.int64, len(pieces)))
        line, start = stop, end
    return np.concatenate(keys) if keys else np.zeros(0, np.int64)
