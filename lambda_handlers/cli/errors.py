"""The command line's errors: one exception type per exit code, and what library errors become.

The exit codes, the same for every command:

- 0: valid, or done;
- 1: invalid data (``validate``), or an action that did not happen (``cleanup`` could not
  remove something, AWS refused a request);
- 2: a usage error: arguments or input the user can fix (a missing file, a bad value, an
  output that exists without ``--force``);
- 3: the environment: no AWS credentials, no network, access denied, an S3 object or bucket
  that cannot be read, a file that cannot be read or written (permissions, a full disk);
- 130: interrupted (Ctrl-C);
- 141: the reader closed the pipe (``| head``): nothing is printed, as with other tools;
- 70: a bug in ``bedrock-customize`` itself; the line says how to report it.

A command raises ``UsageError`` (2), ``EnvironmentProblem`` (3) or ``CommandFailed`` (1);
``bedrock-customize``'s ``main`` turns each into one ``error: `` line on stderr that names the
cause and the fix. A command that ran and has a negative answer (invalid data, something not
removed) prints its report and returns 1 itself.

botocore is imported only by the commands that call AWS: an error can only be one of its
exceptions when it is already loaded, so the translation looks it up instead of importing it.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_BUG = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

EXIT_CODES_HELP = (
    "exit codes: 0 valid or done; 1 invalid data or an action that did not happen; "
    "2 usage error; 3 environment (credentials, network, access, a file or S3 object that "
    "cannot be read or written); 130 interrupted"
)
"""The line every command's ``--help`` ends with."""


class CommandError(Exception):
    """An error the command line reports as one line and an exit code."""

    exit_code = EXIT_FAILED


class UsageError(CommandError):
    """Bad arguments or input the user can fix; exit status 2."""

    exit_code = EXIT_USAGE


class CommandFailed(CommandError):
    """The command could not do what it was asked (AWS refused a request); exit status 1."""

    exit_code = EXIT_FAILED


class EnvironmentProblem(CommandError):
    """Credentials, network, permissions, a disk: nothing wrong with the command; exit 3."""

    exit_code = EXIT_ENVIRONMENT


_OS_FIXES = {
    errno.EACCES: "check its permissions or choose another path",
    errno.EPERM: "check its permissions or choose another path",
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EIO: "the device reported an I/O error: check the disk, or copy the file elsewhere",
    errno.EFBIG: "the file is too large for this file system: write elsewhere",
}


def _os_message(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    reason = (error.strerror or str(error)).lower()
    return f"{where}{reason}"


def os_error(error: OSError) -> CommandError:
    """The command line's error for a file that could not be read or written.

    A path that does not exist or is not a file is the user's to fix (exit 2); anything else
    (permissions, a full or read-only disk, an I/O error) is the environment (exit 3).
    """
    if isinstance(error, FileNotFoundError):
        return UsageError(f"{_os_message(error)}; check the path")
    if isinstance(error, IsADirectoryError | NotADirectoryError):
        return UsageError(f"{_os_message(error)}; give the path of a file")
    fix = _OS_FIXES.get(error.errno or 0, "check the file and the disk, then run again")
    return EnvironmentProblem(f"{_os_message(error)}; {fix}")


def _loaded(module: str) -> Any:
    return sys.modules.get(module)


_ACCESS_CODES = {"AccessDenied", "AccessDeniedException", "403", "Forbidden"}
_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}


def _client_error(error: Any) -> CommandError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    message = details.get("Message") or str(error)
    text = f"{error.operation_name}: {code}: {message}"
    if code in _ACCESS_CODES:
        return EnvironmentProblem(
            f"{text}; access denied: use credentials allowed to call {error.operation_name} "
            "on this resource"
        )
    if code in _MISSING_CODES and error.operation_name in {"HeadObject", "GetObject"}:
        return EnvironmentProblem(
            f"{text}; the S3 object or bucket cannot be read: check the s3:// URI"
        )
    return CommandFailed(text)


def _botocore_error(error: Exception) -> CommandError | None:
    exceptions = _loaded("botocore.exceptions")
    if exceptions is None:
        return None
    if isinstance(error, exceptions.ClientError):
        return _client_error(error)
    if isinstance(error, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return EnvironmentProblem(
            f"{error}: no usable AWS credentials; configure them (aws configure, AWS_PROFILE, "
            "or the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables) and run again"
        )
    if isinstance(error, exceptions.NoRegionError):
        return EnvironmentProblem(f"{error}; set AWS_REGION or a Region in your AWS profile")
    if isinstance(error, exceptions.ConnectionError | exceptions.HTTPClientError):
        return EnvironmentProblem(
            f"cannot reach AWS ({error}); check the network, a proxy or the endpoint settings "
            "and run again"
        )
    if isinstance(error, exceptions.BotoCoreError):
        return EnvironmentProblem(f"{error}; check your AWS configuration (aws configure list)")
    return None


def _workflow_error(error: Exception) -> CommandError | None:
    errors = _loaded("lambda_handlers.common.errors")
    if errors is None or not isinstance(error, errors.WorkflowError):
        return None
    text = " ".join(str(error).split())
    if isinstance(error, errors.AccessDenied):
        return EnvironmentProblem(
            f"{text}; access denied: use credentials allowed to do this on the resource"
        )
    if isinstance(error, errors.ServiceUnreachable):
        return EnvironmentProblem(
            f"cannot reach AWS ({text}); check the network, a proxy or the endpoint settings"
        )
    return CommandFailed(text)


def translate(error: Exception) -> CommandError | None:
    """The command line's error for a library exception, or ``None`` when it is not one."""
    if isinstance(error, CommandError):
        return error
    if isinstance(error, BrokenPipeError):
        return None  # the reader left: main ends quietly
    if isinstance(error, OSError):
        return os_error(error)
    if isinstance(error, ValueError):  # UnicodeError included: a library refused an input
        return UsageError(str(error))
    return _botocore_error(error) or _workflow_error(error)


@contextmanager
def library_errors(reading: object = None) -> Iterator[None]:
    """Translate what library functions raise into the command line's errors.

    The data tools raise ``ValueError`` for arguments they refuse and ``OSError`` for files;
    the operator actions raise ``WorkflowError`` (AWS errors already translated by name);
    boto3 raises ``ClientError`` and ``BotoCoreError``. An ``OSError`` that names no file
    (a failed read of an open file) names ``reading``, the input, when given: the tools'
    outputs name themselves.
    """
    try:
        yield
    except OSError as error:
        if reading is not None and not error.filename and error.errno is not None:
            error = OSError(error.errno, error.strerror, str(reading))
        translated = translate(error)
        if translated is None:
            raise
        raise translated from error
    except Exception as error:
        translated = translate(error)
        if translated is None or translated is error:
            raise
        raise translated from error
