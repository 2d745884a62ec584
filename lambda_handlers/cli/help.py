"""Every command's ``--help`` in one shape: what it does, examples, and the exit codes."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from typing import Any

from lambda_handlers.cli.errors import EXIT_CODES_HELP

WIDTH = 88


def _paragraphs(text: str) -> str:
    return "\n\n".join(
        textwrap.fill(" ".join(part.split()), WIDTH) for part in text.split("\n\n") if part.strip()
    )


def add_command(
    subparsers: argparse._SubParsersAction[Any],
    name: str,
    *,
    summary: str,
    description: str,
    examples: Sequence[str] = (),
) -> argparse.ArgumentParser:
    """A command's parser whose help says what it does (``summary`` in the command list,
    ``description`` on its own page), shows ``examples`` as written, and ends with the exit
    codes."""
    epilog = ""
    if examples:
        epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples) + "\n\n"
    epilog += textwrap.fill(EXIT_CODES_HELP + ".", WIDTH)
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=_paragraphs(description),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser
