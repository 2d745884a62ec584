"""``bedrock-customize`` as a whole: one parser, one dispatch, errors as one line and an exit code."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from lambda_handlers.cli import build_parser, data_commands, main
from lambda_handlers.cli.errors import CommandFailed, UsageError
from tests.cli.helpers import run
from tests.factories import conversation_records, jsonl

NOVA = "amazon.nova-lite-v1:0:300k"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(conversation_records(20)))
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "missing.jsonl", "--type", "FINE_TUNING", "--base-model", NOVA],
        ["validate", "{good}", "--type", "FINE_TUNING", "--base-model", "no.such-model"],
        ["validate", "{good}", "--type", "CONTINUED_PRE_TRAINING", "--base-model", NOVA],
        ["validate", "{good}", "--type", "DPO", "--base-model", NOVA],
        ["validate", "{good}", "--type", "FINE_TUNING"],
        [
            "validate",
            "{good}",
            "--type",
            "FINE_TUNING",
            "--base-model",
            NOVA,
            "--max-examples",
            "-1",
        ],
        ["estimate-cost", "{good}", "--type", "FINE_TUNING", "--base-model", NOVA, "--epochs", "0"],
        [],
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], good: Path) -> None:
    code, out, err = run(*[a.replace("{good}", str(good)) for a in argv])
    assert code == 2
    assert out == ""
    assert err.strip(), "says what is wrong"
    assert len(err.splitlines()) == 1 and err.startswith("error: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "f", "--type", "FINE_TUNING", "--base-model", NOVA],
        ["estimate-cost", "f", "--type", "FINE_TUNING", "--base-model", NOVA, "--epochs", "1"],
        ["split", "f", "--validation-fraction", "0.1"],
        ["augment", "f", "--factor", "2"],
        ["prepare-rft", "f"],
        ["models"],
        [
            "compare-costs",
            "--requests-per-day",
            "1",
            "--input-tokens",
            "1",
            "--output-tokens",
            "1",
            "--base-model",
            NOVA,
        ],
        ["cleanup", "arn"],
        ["promote", "--target", "t", "--model", "m"],
    ],
    ids=lambda argv: argv[0],
)
def test_every_command_has_one_command_function_named_after_it(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.func.__name__ == f"cmd_{argv[0].replace('-', '_')}"
    assert not hasattr(args, "handler"), "one dispatch attribute, not two"


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (UsageError("bad\n  input"), 2, "error: bad input"),
        (CommandFailed("it failed"), 1, "error: it failed"),
        (
            KeyboardInterrupt(),
            130,
            "error: interrupted; no output was left half-written: run the command again",
        ),
    ],
)
def test_errors_become_one_stderr_line_and_their_exit_code(
    raised: BaseException, code: int, line: str, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(data_commands, "split_jsonl", fail)
    assert run("split", str(good), "--validation-fraction", "0.5") == (code, "", line + "\n")


@pytest.mark.parametrize(
    ("raised", "line"),
    [
        (
            ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetObject"),
            "error: GetObject: AccessDeniedException: no; access denied: use credentials allowed "
            "to call GetObject on this resource",
        ),
        (
            NoCredentialsError(),
            "error: Unable to locate credentials: no usable AWS credentials; configure them (aws "
            "configure, AWS_PROFILE, or the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "variables) and run again",
        ),
    ],
)
def test_aws_errors_are_one_line_not_a_traceback(
    raised: Exception, line: str, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(data_commands, "open_source", fail)
    code, out, err = run("validate", str(good), "--type", "FINE_TUNING", "--base-model", NOVA)
    assert (code, out, err) == (3, "", line + "\n")


def test_help_exits_0() -> None:
    assert run("--help")[0] == 0


def test_the_console_script_is_installed(good: Path) -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "bedrock-customize"]
    assert script.load() is main
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambda_handlers.cli",
            "validate",
            str(good),
            "--type",
            "FINE_TUNING",
            "--base-model",
            NOVA,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout
    assert "\x1b" not in result.stdout, "piped output is plain text"


def test_no_lambda_handler_needs_the_command_line_or_rich() -> None:
    # rich is not in the Lambda layer (lambda_handlers/requirements.txt): a handler that
    # imported the command line would fail at run time.
    package = Path(__file__).resolve().parents[2] / "lambda_handlers"
    for source in package.rglob("*.py"):
        if "cli" in source.relative_to(package).parts:
            continue
        text = source.read_text()
        assert "lambda_handlers.cli" not in text, source
        assert "import rich" not in text and "from rich" not in text, source
    assert "rich" not in (package / "requirements.txt").read_text()
