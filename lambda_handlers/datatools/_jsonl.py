"""Line-level JSONL helpers shared by the data tools: streaming reads, all-or-nothing writes."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def is_blank(line: bytes) -> bool:
    """True for an empty or whitespace-only line (``\\n``, ``\\r\\n``, spaces)."""
    return not line.strip()


def parse_object(line: bytes) -> dict[str, Any] | None:
    """The line's JSON object, or ``None`` when it is not one.

    Not valid UTF-8, not valid JSON, or valid JSON that is not an object (an array, a
    string) all count as "not a record" for the tools, which pass such lines through
    rather than guess; the validation engine is where they are reported.
    """
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None


def check_distinct(source: Path, **outputs: Path) -> None:
    """Refuse outputs that are the source or each other.

    Writing over the file being read would destroy the input half-way through the second
    pass; two outputs on one path would silently lose one side.
    """
    seen = {source.resolve(): "the source file"}
    for name, path in outputs.items():
        resolved = path.resolve()
        if resolved in seen:
            raise ValueError(f"{name} {str(path)!r} is the same file as {seen[resolved]}")
        seen[resolved] = name


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only if the block completes.

    A crash or a rejected input half-way leaves no truncated JSONL behind that a later
    step could mistake for a whole dataset. The temporary file sits next to the target so
    the final ``os.replace`` is a rename on one file system; it is opened with ``open`` so
    the usual umask applies to the result.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("xb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
