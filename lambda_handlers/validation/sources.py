"""Where JSONL bytes come from: a local file or an S3 object, read in blocks."""

from __future__ import annotations

import errno
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLOCK_BYTES = 4 * 1024 * 1024


@dataclass
class ByteSource:
    """A named stream of bytes read in blocks; ``size`` when known (for progress)."""

    name: str
    size: int | None
    _open: Callable[[], Any]
    block_bytes: int = BLOCK_BYTES

    def blocks(self, block_bytes: int | None = None) -> Iterator[bytes]:
        block_bytes = block_bytes or self.block_bytes
        stream = self._open()
        try:
            while True:
                chunk = stream.read(block_bytes)
                if not chunk:
                    return
                yield chunk
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    def _read(self, stream: Any, size: int) -> bytes:
        """A read whose ``OSError`` names the source (a read error names no file)."""
        try:
            return bytes(stream.read(size))
        except OSError as error:
            if error.filename or error.errno is None:
                raise
            raise OSError(error.errno, error.strerror, self.name) from None

    def line_blocks(self, block_bytes: int | None = None) -> Iterator[memoryview]:
        """Blocks of whole lines: each ends just after a newline, or at the end of the file.

        Lines are never split across blocks. A line longer than a block is carried
        until it ends, so memory holds at most one block plus the longest line. A
        seekable stream (a local file) is rewound to the start of a cut line instead of
        copying it into the next block.
        """
        size = block_bytes or self.block_bytes
        stream = self._open()
        seekable = bool(getattr(stream, "seekable", lambda: False)())
        carry = b""
        try:
            while True:
                chunk = self._read(stream, size)
                if not chunk:
                    break
                data = carry + chunk if carry else chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    carry = data
                    continue
                tail = len(data) - cut
                if seekable and tail and not carry:
                    stream.seek(-tail, 1)
                    carry = b""
                else:
                    carry = data[cut:]
                yield memoryview(data)[:cut]
            if carry:
                yield memoryview(carry)
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()


def _s3_source(uri: str, s3_client: Any | None) -> ByteSource:
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ValueError(f"{uri} is not an S3 object URI; write it as s3://bucket/key.jsonl")
    head = s3_client.head_object(Bucket=bucket, Key=key)

    def open_body() -> Any:
        return s3_client.get_object(Bucket=bucket, Key=key)["Body"]

    return ByteSource(uri, int(head["ContentLength"]), open_body)


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def describe_path(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file ("a folder", "a named pipe (FIFO)"),
    ``None`` when it is one (symlinks followed).

    Raises ``FileNotFoundError`` (naming ``path``) when nothing is there.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path)) from None
    if stat.S_ISREG(mode):
        return None
    return next((what for is_kind, what in _KINDS if is_kind(mode)), "not a regular file")


def open_source(location: str | Path, s3_client: Any | None = None) -> ByteSource:
    """A local path or an ``s3://bucket/key`` URI as a ``ByteSource``.

    A local path must be a regular file that can be read: a folder or a FIFO raises
    ``ValueError`` saying what it is (a FIFO could be read once, and would block until
    something writes to it), a missing file ``FileNotFoundError``, an unreadable one
    ``PermissionError``; each names the path.
    """
    text = str(location)
    if text.startswith("s3://"):
        return _s3_source(text, s3_client)
    path = Path(location)
    what = describe_path(path)
    if what is not None:
        raise ValueError(f"{path} is {what}, not a file; give the path of a JSONL file")
    with path.open("rb"):  # unreadable: PermissionError now, not half-way through a report
        pass
    return ByteSource(str(path), path.stat().st_size, lambda: path.open("rb"))


def bytes_source(name: str, data: bytes, block_bytes: int = BLOCK_BYTES) -> ByteSource:
    """An in-memory source, for tests and small documents."""
    import io

    return ByteSource(name, len(data), lambda: io.BytesIO(data), block_bytes)
