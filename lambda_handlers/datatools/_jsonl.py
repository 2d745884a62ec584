"""Line-level JSONL helpers shared by the data tools: streaming reads, all-or-nothing writes."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast


def is_blank(line: bytes) -> bool:
    """True for an empty or whitespace-only line (``\\n``, ``\\r\\n``, spaces)."""
    return not line.strip()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_object(line: bytes) -> dict[str, Any] | None:
    """The line's JSON object, or ``None`` when it is not one.

    Not valid UTF-8, not valid JSON (``NaN`` and ``Infinity`` included), or valid JSON that
    is not an object (an array, a string) all count as "not a record" for the tools, which
    pass such lines through rather than guess; the validation engine is where they are
    reported.
    """
    try:
        value = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None


def encode_record(record: Any) -> bytes:
    """``record`` as one line of UTF-8 JSON (no newline).

    Raises ``ValueError`` saying why a parsed record cannot be written back: text with a
    lone surrogate (``"\\ud800"`` parses, but is not Unicode that UTF-8 can encode), a
    number out of JSON's range (``1e400`` parses as infinity), nesting too deep to write.
    """
    try:
        return json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "text with a lone surrogate escape (such as \\ud800), which is not valid Unicode"
        ) from None
    except RecursionError:
        raise ValueError("nested too deeply to write") from None
    except ValueError:
        raise ValueError("a number out of range (JSON has no infinity or NaN)") from None


Target = Path | IO[bytes]
"""Where a tool writes: a path, or an open binary stream (the command line's ``-``, stdout)."""


def _regular_or_absent(path: Path) -> bool:
    """Whether ``path`` (symlinks followed) is a regular file or does not exist yet."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True


def check_distinct(source: Path, **outputs: Target) -> None:
    """Refuse outputs that are the source or each other.

    Writing over the file being read would destroy the input half-way through the second
    pass; two outputs on one path would silently lose one side. A character device
    (``/dev/null``) may take several outputs; a stream is never a path.
    """
    source_real = source.resolve()
    seen = {source_real: "the source file"}
    for name, path in outputs.items():
        if not isinstance(path, Path):
            continue
        resolved = path.resolve()
        if resolved in seen and (resolved == source_real or _regular_or_absent(path)):
            raise ValueError(f"{name} {str(path)!r} is the same file as {seen[resolved]}")
        seen[resolved] = name


def _named(error: OSError, path: Path) -> OSError:
    """``error`` naming ``path``: never a temporary file the user did not ask for."""
    if error.errno is None:
        return error
    return OSError(error.errno, error.strerror, str(path))


class _Sink:
    """A binary file whose write errors name the output the user asked for."""

    def __init__(self, handle: IO[bytes], shown_as: Path) -> None:
        self._handle = handle
        self._shown_as = shown_as

    def write(self, data: bytes) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            raise _named(error, self._shown_as) from None

    def finish(self) -> None:
        """Flush and close: a full disk often shows only here."""
        try:
            self._handle.close()
        except OSError as error:
            raise _named(error, self._shown_as) from None


@contextlib.contextmanager
def open_output(target: Target) -> Iterator[IO[bytes]]:
    """A binary sink for ``target``, complete only if the block completes.

    - A stream (stdout) is written as it is and flushed, never closed.
    - A path is followed through symlinks: the link stays and its target gets the data.
    - A device or a FIFO (``/dev/null``, a named pipe) is written through, never replaced.
    - A regular file, or a path that does not exist yet, is written all-or-nothing
      (``atomic_output``).

    An ``OSError`` of the output names ``target``, never a temporary file.
    """
    if not isinstance(target, Path):
        yield target
        target.flush()
        return
    real = Path(os.path.realpath(target))
    if _regular_or_absent(real):
        with atomic_output(real, shown_as=target) as handle:
            yield handle
        return
    try:
        handle = real.open("wb")
    except OSError as error:
        raise _named(error, target) from None
    sink = _Sink(handle, target)
    try:
        yield cast("IO[bytes]", sink)
    except BaseException:
        with contextlib.suppress(OSError):
            handle.close()
        raise
    sink.finish()


@contextlib.contextmanager
def atomic_output(path: Path, *, shown_as: Path | None = None) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only if the block completes.

    A crash or a rejected input half-way leaves no truncated JSONL behind that a later
    step could mistake for a whole dataset. The temporary file sits next to the target so
    the final ``os.replace`` is a rename on one file system; it is opened with ``open`` so
    the usual umask applies to the result. An ``OSError`` of the output names ``shown_as``
    (default ``path``), never the temporary file.
    """
    shown = shown_as or path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        handle = tmp.open("xb")
    except OSError as error:
        raise _named(error, shown) from None
    sink = _Sink(handle, shown)
    try:
        yield cast("IO[bytes]", sink)
        sink.finish()
        try:
            os.replace(tmp, path)
        except OSError as error:
            raise _named(error, shown) from None
    except BaseException:
        with contextlib.suppress(OSError):
            handle.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
