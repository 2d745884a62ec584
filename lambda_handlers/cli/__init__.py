"""``bedrock-customize``: the command line for data checks, estimates and operator actions.

The package, one module per concern:

- ``__init__``: ``main`` (the console script) and ``build_parser``;
- ``data_commands``: ``validate``, ``estimate-cost``, ``split``, ``augment``, ``prepare-rft``;
- ``model_commands``: ``models``, ``compare-costs``;
- ``operator_commands``: ``cleanup``, ``promote``;
- ``operations``: the operator actions those commands call (no printing);
- ``console``: ``Output``, where every command writes (lines, JSON, tables, progress);
- ``errors``: the exception types and their exit codes.

Every command is ``cmd_<name>(args, out) -> exit code``: it parses its arguments, calls the
library and prints through ``out``. Errors are raised, never printed by a command: ``main``
turns them into one ``error: `` line on stderr and the exit code of their type (2 usage, 1 a
failed action). ``validate`` exits 1 for invalid data after printing its report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from lambda_handlers.cli import data_commands, model_commands, operator_commands
from lambda_handlers.cli.console import Output
from lambda_handlers.cli.errors import EXIT_INTERRUPTED, CommandError, UsageError

PROG = "bedrock-customize"


class _Parser(argparse.ArgumentParser):
    """Argument errors become ``UsageError`` so they go where the caller's stderr is."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each sets ``func``, its command function."""
    parser = _Parser(
        prog=PROG,
        description="Check and prepare training data for Amazon Bedrock model customization, "
        "compare costs, and clean up or promote what a customization created.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for group in (data_commands, model_commands, operator_commands):
        group.add_commands(subparsers)
    return parser


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run one command; the exit code: 0 done, 1 invalid data or a failed action, 2 usage."""
    out = Output(stdout or sys.stdout, stderr or sys.stderr)
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args, out))
    except CommandError as error:
        out.error(str(error))
        return error.exit_code
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except KeyboardInterrupt:
        out.note("interrupted")
        return EXIT_INTERRUPTED
