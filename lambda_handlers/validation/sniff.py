"""What a file is when it is not UTF-8 JSONL, and the cheap checks behind two findings.

- ``sniff``: the first bytes of a file name a gzip stream, UTF-16 or UTF-32 text, or a
  UTF-8 byte-order mark, which would otherwise show as thousands of "not UTF-8" or "not
  JSON" lines.
- ``duplicate_key``: the key an object gives twice, if any. Decoders keep the last value
  (msgspec, Python's json) or the first, or refuse, so such a record means different
  things to different readers.
"""

from __future__ import annotations

import json
from typing import Any

GZIP = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_UTF32 = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16 = (b"\xff\xfe", b"\xfe\xff")


def sniff(head: bytes) -> str | None:
    """Why a file starting with ``head`` is not UTF-8 JSONL, or ``None``.

    A UTF-8 byte-order mark is reported by ``validate`` and the rest of the file is still
    checked; for the others the file cannot be read as JSONL at all.
    """
    if head.startswith(GZIP):
        return "the file is gzip-compressed; decompress it (gunzip) and upload the .jsonl"
    if head.startswith(_UTF32):
        return "the file is UTF-32 text; save it as UTF-8 without a byte-order mark"
    if head.startswith(_UTF16) or (len(head) >= 4 and head[1] == 0 and head[3] == 0):
        return "the file is UTF-16 text; save it as UTF-8 without a byte-order mark"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0:
        return "the file is UTF-16 text; save it as UTF-8 without a byte-order mark"
    return None


def member_count(value: Any) -> int:
    """The members of every object in a decoded JSON value."""
    return _members_and_colons(value)[0]


def _members_and_colons(value: Any) -> tuple[int, int]:
    """The members of every object in a decoded JSON value, and the colons in its strings
    (not its keys, which seldom hold one: fewer colons only means a line is parsed again)."""
    count = colons = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            colons += item.count(":")
    return count, colons


class _Twice(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Twice(key)
            seen.add(key)
    return result


def duplicate_key(raw: bytes, decoded: Any) -> str | None:
    """The first key given twice in one object of the line ``raw``, or ``None``.

    Cheap when there is none, which is nearly always: every member has a colon, so a line
    with no more colons than the decoded value has members cannot repeat a key. Nor can
    one whose colons beyond those in the decoded strings are no more than its
    members, unless a colon is escaped (``\\u003a``): the raw line holds at least the
    decoded text's colons besides one per member given. Only a line left in doubt is
    parsed again, with the pairs kept.
    """
    colons = raw.count(b":")
    members, in_text = _members_and_colons(decoded)
    if colons <= members:
        return None
    if colons - in_text <= members and b"\\u003" not in raw:
        return None
    try:
        json.loads(raw, object_pairs_hook=_pairs)
    except _Twice as twice:
        return twice.key
    except (ValueError, RecursionError):
        return None
    return None
