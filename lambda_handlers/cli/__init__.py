"""``bedrock-customize``: the command line for data checks, estimates and operator actions.

The package, one module per concern:

- ``__init__``: ``main`` (the console script) and ``build_parser``;
- ``data_commands``: ``validate``, ``split``, ``augment``, ``prepare-rft``;
- ``cost_commands``: ``estimate-cost``, and ``--prices`` for every command that computes a cost;
- ``model_commands``: ``models``, ``compare-costs``;
- ``operator_commands``: ``cleanup``, ``promote``;
- ``run_commands``: ``start``, ``status``, ``watch``, ``list``, ``stop``, ``report`` (parsers in
  ``run_parsers``, library in ``runs``, ``run_costs``, ``report_page``, ``report_html``);
- ``operations``: the operator actions those commands call (no printing);
- ``console``: ``Output``, where every command writes (lines, JSON, tables, progress);
- ``errors``: the exception types and their exit codes;
- ``help``: the shape every command's ``--help`` takes (what it does, examples, exit codes).

Every command is ``cmd_<name>(args, out) -> exit code``: it parses its arguments, calls the
library and prints through ``out``. Errors are raised, never printed by a command: ``main``
turns them into one ``error: `` line on stderr and the exit code of their type (see
``errors``: 1 invalid data or a failed action, 2 usage, 3 environment, 130 interrupted).
Nothing ends in a traceback: an error no command expected is a bug, reported as one line
(exit 70), with the traceback only when ``BEDROCK_CUSTOMIZE_DEBUG`` is set.

This module imports only the standard library at the top: the commands' libraries (rich,
numpy, botocore) load inside ``main``, so an interrupt while they load is handled too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from lambda_handlers.cli.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_BUG,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    CommandError,
    UsageError,
    translate,
)

if TYPE_CHECKING:
    from lambda_handlers.cli.console import Output

PROG = "bedrock-customize"
DEBUG_VARIABLE = "BEDROCK_CUSTOMIZE_DEBUG"


class _Parser(argparse.ArgumentParser):
    """Argument errors become ``UsageError`` so they go where the caller's stderr is."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each sets ``func``, its command function."""
    from lambda_handlers.cli import data_commands, model_commands, operator_commands, run_parsers

    parser = _Parser(
        prog=PROG,
        description="Check and prepare training data for Amazon Bedrock model customization, "
        "compare costs, start, follow, stop and report customizations, and clean up or promote "
        "what a customization created. "
        f"See {PROG} COMMAND --help for each command.",
        epilog=EXIT_CODES_HELP + "; 141 the reader closed the pipe.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (data_commands, model_commands, operator_commands, run_parsers):
        group.add_commands(subparsers)
    return parser


def _quiet_stdout(stdout: TextIO) -> None:
    """Point a closed pipe's file descriptor at /dev/null, so the interpreter's final flush of
    ``sys.stdout`` cannot fail once the reader has gone (``| head``)."""
    try:
        fileno = stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a StringIO in tests
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def _bug(out: Output | None, stderr: TextIO, error: BaseException) -> int:
    if os.environ.get(DEBUG_VARIABLE):
        import traceback

        traceback.print_exception(error, file=stderr)
    message = (
        f"internal error {type(error).__name__}: {error}; this is a bug in {PROG}: "
        f"please report it with the command you ran (set {DEBUG_VARIABLE}=1 for details)"
    )
    _say(out, stderr, message)
    return EXIT_BUG


def _say(out: Output | None, stderr: TextIO, message: str) -> None:
    try:
        if out is not None:
            out.error(message)
        else:
            stderr.write("error: " + " ".join(message.split()) + "\n")
            stderr.flush()
    except (OSError, ValueError):  # stderr closed as well: nowhere left to say it
        pass


def _run(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO) -> tuple[int, Output | None]:
    from lambda_handlers.cli.console import Output

    out = Output(stdout, stderr)
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args, out))
    except Exception as error:
        translated = translate(error)
        if translated is None:
            raise
        out.error(str(translated))
        return translated.exit_code, out
    return code, out


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run one command; the exit code: 0 done, 1 invalid data or a failed action, 2 usage,
    3 environment, 130 interrupted, 141 the reader closed the pipe (see
    ``lambda_handlers.cli.errors``)."""
    # A stream the shell closed (``>&-``) is None: what goes there goes nowhere.
    stdout = stdout or sys.stdout or open(os.devnull, "w")  # noqa: SIM115
    stderr = stderr or sys.stderr or open(os.devnull, "w")  # noqa: SIM115
    code = _main(argv, stdout, stderr)
    try:
        stdout.flush()  # what is still buffered (--help) meets a closed pipe here, not at exit
    except BrokenPipeError:
        _quiet_stdout(stdout)
        return EXIT_BROKEN_PIPE
    except (OSError, ValueError):  # stdout closed or gone: nothing more to say
        pass
    return code


def _main(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO) -> int:
    out: Output | None = None
    try:
        code, out = _run(argv, stdout, stderr)
        return code
    except SystemExit as exit_:  # --help, --version
        return exit_.code if isinstance(exit_.code, int) else 0
    except KeyboardInterrupt:
        _say(None, stderr, "interrupted; no output was left half-written: run the command again")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout(stdout)
        return EXIT_BROKEN_PIPE
    except CommandError as error:  # raised before the console existed
        _say(None, stderr, str(error))
        return error.exit_code
    except Exception as error:
        return _bug(out, stderr, error)
