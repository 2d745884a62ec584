"""The command line's errors: one exception type per exit code, and what library errors become.

A command raises ``UsageError`` (exit 2) for arguments or input the user can fix, and
``CommandFailed`` (exit 1) for an action that did not happen (an AWS error, a disk that is
full). ``bedrock-customize``'s ``main`` turns either into one ``error: `` line on stderr.
A command that ran and has a negative answer (invalid data, something not removed) prints
its report and returns 1 itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from lambda_handlers.common.errors import WorkflowError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """An error the command line reports as one line and an exit code."""

    exit_code = EXIT_FAILED


class UsageError(CommandError):
    """Bad arguments or input the user can fix; exit status 2."""

    exit_code = EXIT_USAGE


class CommandFailed(CommandError):
    """The command could not do what it was asked (AWS refused, a write failed); exit status 1."""

    exit_code = EXIT_FAILED


def _os_message(error: OSError) -> str:
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}"


@contextmanager
def library_errors() -> Iterator[None]:
    """Translate what library functions raise into the command line's errors.

    The data tools raise ``ValueError`` for arguments they refuse and ``OSError`` for files;
    the operator actions raise ``WorkflowError`` (AWS errors already translated by name).
    A missing input file is the user's to fix (exit 2); another I/O failure is not (exit 1).
    """
    try:
        yield
    except ValueError as error:
        raise UsageError(str(error)) from error
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
        raise UsageError(_os_message(error)) from error
    except OSError as error:
        raise CommandFailed(_os_message(error)) from error
    except WorkflowError as error:
        raise CommandFailed(str(error)) from error
    except ClientError as error:
        details = error.response.get("Error", {})
        raise CommandFailed(
            f"{error.operation_name}: {details.get('Code', '')}: {details.get('Message', error)}"
        ) from error
    except BotoCoreError as error:  # no credentials, no Region, endpoint unreachable
        raise CommandFailed(str(error)) from error
