"""What the command line tests share: running ``bedrock-customize`` in-process, reading its output."""

from __future__ import annotations

import io
import re

from lambda_handlers.cli import main

ESCAPE = "\x1b"  # the start of every terminal escape code


def run(*argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command."""
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def error_line(err: str) -> str:
    """The one ``error: `` line a failing command writes on stderr."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def cells(out: str, first: str) -> list[str]:
    """The cells of the table row that starts with ``first`` (columns are 2+ spaces apart)."""
    row = next(line for line in out.splitlines() if line.startswith(first))
    return re.split(r"\s{2,}", row.strip())
