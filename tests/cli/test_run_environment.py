"""The run commands as a user runs them, in real processes: no credentials or no network is
one line and exit 3, never a traceback; every ``--help`` says what the command does, shows
examples and ends with the exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lambda_handlers.cli import main
from tests.cli.helpers import error_line
from tests.cli.runs_helpers import MACHINE_ARN, execution_arn, llama_request
from tests.cli.test_hostile import OFFLINE, cli, no_aws_env

COMMANDS = ("start", "status", "watch", "list", "stop", "report")
NETWORK_CASES = ("start-by-stack", "status")


def test_stop_help_says_it_stops_and_deletes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stop", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "STOPS the customization job and DELETES" in text
    assert "cannot be undone" in text


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Each case started at once, then collected: name -> (exit code, stderr, stdout)."""
    work = tmp_path_factory.mktemp("run-environment")
    (work / "request.json").write_text(json.dumps(llama_request()))
    arn = execution_arn("run-1")
    commands = {
        "start": cli("start", "request.json", "--state-machine-arn", MACHINE_ARN),
        "start-by-stack": cli("start", "request.json"),
        "status": cli("status", arn),
        "list": cli("list", "--state-machine-arn", MACHINE_ARN),
        "stop": cli("stop", arn),
        "report": cli("report", arn, "--out", "report"),
    }
    started = {}
    settings = {"no-credentials": no_aws_env(), "no-network": no_aws_env(**OFFLINE)}
    for name, args in commands.items():
        # Every command without credentials; the network once by the stack, once by an ARN.
        for setting, env in settings.items():
            if setting == "no-network" and name not in NETWORK_CASES:
                continue
            started[f"{setting}-{name}"] = subprocess.Popen(
                args,
                env=env,
                cwd=work,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
    collected = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=180)
        collected[name] = (process.returncode, err.decode(), out.decode())
    assert not (work / "report").exists(), "no report folder without a report"
    return collected


@pytest.mark.parametrize(
    ("setting", "command", "says"),
    [
        *(
            ("no-credentials", command, "no usable AWS credentials; configure them")
            for command in ("start", "start-by-stack", "status", "list", "stop", "report")
        ),
        *(("no-network", command, "cannot reach AWS") for command in NETWORK_CASES),
    ],
)
def test_no_credentials_and_no_network_exit_3_with_one_line(
    results: dict[str, tuple[int, str, str]], command: str, setting: str, says: str
) -> None:
    code, err, out = results[f"{setting}-{command}"]
    assert "Traceback" not in err
    assert (code, out) == (3, "")
    assert says in error_line(err)


def test_a_request_that_is_not_json_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text("{not json")
    from tests.cli.helpers import run

    code, out, err = run("start", str(path), "--state-machine-arn", MACHINE_ARN)
    assert (code, out) == (2, "")
    assert f"{path}: not JSON (" in error_line(err)
    code, _, err = run("start", str(tmp_path / "absent.json"))
    assert code == 2
    assert "no such file" in error_line(err).lower()
