"""What the command line writes: lines, JSON, tables and a progress bar, through ``rich``.

Every command writes through one ``Output``: results on stdout, errors and progress on
stderr. On a terminal, rich draws tables with box characters and colour and shows a progress
bar. When a stream is piped or is a file (or a ``StringIO`` in tests), the same calls write
plain text: no escape codes, ASCII rules, no trailing spaces, and a fixed width so the output
is the same whatever the environment. ``--json`` output bypasses rich and is exactly JSON.

Later commands that watch an execution use the same pieces: ``table`` for what they list,
``progress`` (or ``stderr_console`` for a ``rich.live.Live``) for what they follow.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TextIO, cast

from rich import box
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Column, Table
from rich.text import Text

PIPED_WIDTH = 200
"""Columns of piped output: the widest table (the model catalogue, about 170 columns) keeps
its layout, and the output does not depend on ``COLUMNS`` or the terminal it came from."""

PLAIN_BOX = box.Box(
    "    \n"  # top
    "    \n"  # head
    " -- \n"  # head_row: a rule under the header
    "    \n"  # mid
    " -- \n"  # row: a rule between rows, when a table asks for one
    " -- \n"  # foot_row
    "    \n"  # foot
    "    \n",  # bottom
    ascii=True,
)
"""rich's ``SIMPLE`` layout in ASCII: columns separated by spaces, dashes under the header."""


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class _Console(Console):
    """A rich console that leaves a closed pipe to ``main``: rich's own handling exits 1,
    the code of invalid data."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader closed the pipe")


def make_console(stream: TextIO) -> Console:
    """A rich console on ``stream``: full rendering on a terminal, plain text otherwise.

    Strings are never read as rich markup, emoji codes or highlighted: ARNs, JSON paths and
    ``[1]``-style references are printed as they are.
    """
    common: dict[str, Any] = {"markup": False, "emoji": False, "highlight": False}
    if _is_terminal(stream):
        return _Console(file=stream, force_terminal=True, **common)
    return _Console(
        file=stream,
        force_terminal=False,
        force_interactive=False,
        no_color=True,
        color_system=None,
        width=PIPED_WIDTH,
        **common,
    )


class _TextAsBinary:
    """A text stream taking bytes (a ``StringIO`` standing in for stdout in tests)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write(data.decode("utf-8", "surrogateescape"))
        return len(data)

    def flush(self) -> None:
        self._stream.flush()


class Output:
    """Where a command writes: results to stdout, errors and progress to stderr."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self.stdout_console = make_console(stdout)
        self.stderr_console = make_console(stderr)

    def data_stream(self) -> IO[bytes]:
        """stdout as a binary stream, for data written to ``-``."""
        buffer = getattr(self._stdout, "buffer", None)
        if buffer is not None:
            self._stdout.flush()
            return cast("IO[bytes]", buffer)
        return cast("IO[bytes]", _TextAsBinary(self._stdout))

    def to_stderr(self) -> Output:
        """An ``Output`` whose results go to stderr: stdout carries data (``-``)."""
        return Output(self._stderr, self._stderr)

    @property
    def is_terminal(self) -> bool:
        """Whether stdout is a terminal (rich renders colour and boxes there)."""
        return self.stdout_console.is_terminal

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """One line on stdout, never wrapped; ``style`` (e.g. ``"bold red"``) on a terminal only."""
        self.stdout_console.print(Text(text, style=style or ""), soft_wrap=True)

    def json(self, data: Any) -> None:
        """``data`` as indented JSON on stdout, exactly: rich does not touch it."""
        self._stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        self._stdout.flush()

    def table(self, *columns: str | Column, row_lines: bool = False) -> Table:
        """An empty table with the house look; add rows, then ``show`` it.

        Headers are plain words (``"MODEL"``); pass a ``rich.table.Column`` for a column that
        must not wrap or is right-aligned. ``row_lines`` draws a rule between rows, for rows of
        several lines.
        """
        return Table(
            *columns,
            box=box.SIMPLE_HEAD if self.is_terminal else PLAIN_BOX,
            show_edge=False,
            pad_edge=False,
            show_lines=row_lines,
            header_style="bold" if self.is_terminal else "",
        )

    def show(self, renderable: RenderableType) -> None:
        """A table (or any rich renderable) on stdout; without trailing spaces when piped."""
        if self.is_terminal:
            self.stdout_console.print(renderable)
            return
        with self.stdout_console.capture() as captured:
            self.stdout_console.print(renderable)
        lines = captured.get().splitlines()
        self._stdout.write("".join(line.rstrip() + "\n" for line in lines))
        self._stdout.flush()

    def note(self, text: str) -> None:
        """One line on stderr, for what is not the command's result (``interrupted``)."""
        self.stderr_console.print(Text(text), soft_wrap=True)

    def error(self, message: str) -> None:
        """One ``error: `` line on stderr: the message with its line breaks folded."""
        text = Text("error: ", style="bold red")
        text.append(" ".join(str(message).split()))
        self.stderr_console.print(text, soft_wrap=True)

    @contextmanager
    def progress(
        self, description: str, total: int | None, *, min_total: int = 0
    ) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr while the block runs; yields ``advance(n)``.

        The bar shows only when stderr is a terminal and ``total`` is at least ``min_total``
        (a short job needs none); otherwise ``advance`` does nothing. The bar is removed when
        the block ends, so only the result stays on the screen.
        """
        if not self.stderr_console.is_terminal or not total or total < min_total:
            yield lambda _: None
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.stderr_console,
            transient=True,
        )
        task = bar.add_task(description, total=total)
        with bar:
            yield lambda n_bytes: bar.advance(task, n_bytes)
