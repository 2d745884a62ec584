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


class _Output:
    """One output of a tool, written in two phases so that several outputs are all-or-nothing:
    ``finish`` (flush and close: a full disk often shows only here) for every output, then
    ``commit`` (the rename of an atomic file) for every output."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.tmp: Path | None = None
        self.real: Path | None = None
        self.handle: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        if not isinstance(self.target, Path):
            return self.target
        self.real = Path(os.path.realpath(self.target))
        path = self.real
        if _regular_or_absent(self.real):
            path = self.tmp = self.real.with_name(
                f".{self.real.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            )
        try:
            # A device or FIFO is written unbuffered: a failed write shows at once, before
            # any other output is committed.
            self.handle = path.open("xb") if self.tmp else path.open("wb", buffering=0)
        except OSError as error:
            raise _named(error, self.target) from None
        return cast("IO[bytes]", _Sink(self.handle, self.target))

    def finish(self) -> None:
        try:
            if self.handle is not None:
                self.handle.close()
            else:
                cast("IO[bytes]", self.target).flush()
        except OSError as error:
            raise _named(error, self.shown) from None

    def commit(self) -> None:
        if self.tmp is None or self.real is None:
            return
        try:
            os.replace(self.tmp, self.real)
        except OSError as error:
            raise _named(error, self.shown) from None
        self.tmp = None

    def abort(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()

    @property
    def shown(self) -> Path:
        return self.target if isinstance(self.target, Path) else Path("-")


@contextlib.contextmanager
def open_outputs(*targets: Target) -> Iterator[list[IO[bytes]]]:
    """Binary sinks for ``targets``, all complete only if the block completes.

    - A stream (stdout) is written as it is and flushed, never closed.
    - A path is followed through symlinks: the link stays and its target gets the data.
    - A device or a FIFO (``/dev/null``, a named pipe) is written through, never replaced.
    - A regular file, or a path that does not exist yet, is written to a temporary file
      beside it and renamed at the end, so a crash or a rejected input half-way leaves no
      truncated JSONL that a later step could mistake for a whole dataset. Nothing is
      renamed until every output has been flushed.

    An ``OSError`` of an output names the target, never a temporary file.
    """
    outputs = [_Output(target) for target in targets]
    try:
        sinks = [output.open() for output in outputs]
        yield sinks
        for output in outputs:
            output.finish()
        for output in outputs:
            output.commit()
    except BaseException:
        for output in outputs:
            output.abort()
        raise


@contextlib.contextmanager
def open_output(target: Target) -> Iterator[IO[bytes]]:
    """One output, as ``open_outputs`` writes it."""
    with open_outputs(target) as (sink,):
        yield sink


def atomic_output(path: Path) -> contextlib.AbstractContextManager[IO[bytes]]:
    """A binary file that appears at ``path`` only if the block completes (``open_output``
    of a path that is a regular file or does not exist yet)."""
    return open_output(path)
